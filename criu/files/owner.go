package files

import "github.com/criugo/criu/internal/linux"

// F_OWNER_* (include/uapi/asm-generic/fcntl.h): the kinds of owner
// Tree.InnerOwner is asked about.
const (
	OwnerTid  = linux.F_OWNER_TID
	OwnerPid  = linux.F_OWNER_PID
	OwnerPgrp = linux.F_OWNER_PGRP
)

// fileOwner reads the owner of the open file fd (F_GETOWN_EX, its pid as
// seen from criu's pid namespace) and the uids recorded with it.
func fileOwner(fd int) (own linux.FOwnerEx, uid, euid uint32, err error) {
	own, err = linux.FcntlGetOwnerEx(fd)
	if err != nil || own.Pid == 0 {
		return own, 0, 0, err
	}
	uid, euid, err = linux.FcntlGetOwnerUids(fd)
	return own, uid, euid, err
}
