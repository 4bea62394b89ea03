package anonfd

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kcmpEpollTfd is KCMP_EPOLL_TFD (include/uapi/linux/kcmp.h).
const kcmpEpollTfd = 7

// kcmpEpollSlot mirrors struct kcmp_epoll_slot.
type kcmpEpollSlot struct {
	efd, tfd, toff uint32
}

// epollTargetIs reports whether fd of pid is the file that the epoll at
// efd of pid watches as target tfd (the first one added with that fd
// number).
func epollTargetIs(pid, fd, efd, tfd int) (bool, error) {
	slot := kcmpEpollSlot{efd: uint32(efd), tfd: uint32(tfd)}
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(pid), kcmpEpollTfd, uintptr(fd), uintptr(unsafe.Pointer(&slot)), 0)
	if e == unix.EINTR {
		r, _, e = unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(pid), kcmpEpollTfd, uintptr(fd), uintptr(unsafe.Pointer(&slot)), 0)
	}
	if e != 0 {
		return false, os.NewSyscallError("kcmp(KCMP_EPOLL_TFD)", e)
	}
	return r == 0, nil
}
