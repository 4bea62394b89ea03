package dump

import (
	"os"

	"golang.org/x/sys/unix"
)

// kcmp types (include/uapi/linux/kcmp.h).
const (
	kcmpFile  = 0
	kcmpVM    = 1
	kcmpFiles = 2
	kcmpFs    = 3
)

// kcmp reports whether pid1 and pid2 share the kernel object of type typ
// (for kcmpFile, the open file description behind fd1 and fd2).
func kcmp(pid1, pid2, typ, fd1, fd2 int) (bool, error) {
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), uintptr(typ), uintptr(fd1), uintptr(fd2), 0)
	if e == unix.EINTR {
		r, _, e = unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), uintptr(typ), uintptr(fd1), uintptr(fd2), 0)
	}
	if e != 0 {
		return false, os.NewSyscallError("kcmp", e)
	}
	return r == 0, nil
}

// getFd copies fd of pid into this process (pidfd_getfd): the same open
// file description, so reading state from it reads the task's object.
func getFd(pid, fd int) (int, error) {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pfd)
	nfd, err := unix.PidfdGetfd(pfd, fd, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_getfd", err)
	}
	return nfd, nil
}
