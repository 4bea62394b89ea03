package files

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ReopenInherited opens criu's inherited fd (restore --inherit-fd) anew
// through /proc with the access mode and status flags of a dumped
// description: a description of its own, as CRIU's reopen.
func ReopenInherited(fd int, flags uint32) (int, error) {
	acc := int(flags & unix.O_ACCMODE)
	// O_NOCTTY: a terminal must not become criu's controlling one.
	nfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), acc|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, fmt.Errorf("reopen inherited fd %d: %w", fd, os.NewSyscallError("open", err))
	}
	keep := int(flags &^ (unix.O_ACCMODE | unix.O_CREAT | unix.O_TRUNC | unix.O_EXCL | unix.O_CLOEXEC))
	if _, err := unix.FcntlInt(uintptr(nfd), unix.F_SETFL, keep); err != nil {
		unix.Close(nfd)
		return -1, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return nfd, nil
}

// DupInherited is a close-on-exec copy of criu's inherited fd (the same
// description).
func DupInherited(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("inherited fd %d: %w", fd, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err))
	}
	return nfd, nil
}
