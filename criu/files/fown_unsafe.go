package files

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fOwnerEx mirrors struct f_owner_ex (include/uapi/asm-generic/fcntl.h).
type fOwnerEx struct {
	typ int32 // F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP
	pid int32
}

// F_OWNER_* (include/uapi/asm-generic/fcntl.h): the kinds of owner
// Tree.InnerOwner is asked about.
const (
	OwnerTid  = 0
	OwnerPid  = 1
	OwnerPgrp = 2
)

// fGetOwnerUids is F_GETOWNER_UIDS (CONFIG_CHECKPOINT_RESTORE): the
// real and effective uid that F_SETOWN recorded with the owner.
const fGetOwnerUids = 17

// fileOwner reads the owner of the open file fd (F_GETOWN_EX, its pid as
// seen from criu's pid namespace) and the uids recorded with it.
func fileOwner(fd int) (own fOwnerEx, uid, euid uint32, err error) {
	if _, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETOWN_EX, uintptr(unsafe.Pointer(&own))); e != 0 {
		return own, 0, 0, os.NewSyscallError("fcntl(F_GETOWN_EX)", e)
	}
	if own.pid == 0 {
		return own, 0, 0, nil
	}
	var v [2]uint32
	if _, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), fGetOwnerUids, uintptr(unsafe.Pointer(&v))); e != 0 {
		return own, 0, 0, os.NewSyscallError("fcntl(F_GETOWNER_UIDS)", e)
	}
	return own, v[0], v[1], nil
}
