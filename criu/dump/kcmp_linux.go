package dump

import (
	"os"

	"golang.org/x/sys/unix"
)

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
