package netns

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// setns moves the calling thread into the network namespace fd.
func setns(fd int) error {
	err := unix.Setns(fd, unix.CLONE_NEWNET)
	if errors.Is(err, unix.EINTR) {
		err = unix.Setns(fd, unix.CLONE_NEWNET)
	}
	if err != nil {
		return os.NewSyscallError("setns", err)
	}
	return nil
}
