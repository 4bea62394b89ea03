package sockets

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// maxFilter caps the instructions of a classic BPF socket filter
// (BPF_MAXINSNS).
const maxFilter = linux.BPF_MAXINSNS

// socketFilter reads the classic BPF filter attached to fd
// (SO_GET_FILTER): nil if none. getsockopt with a zero length gives the
// number of instructions, then the instructions themselves.
func socketFilter(fd int) ([]unix.SockFilter, error) {
	n, err := linux.GetsockoptSockFilter(fd, nil)
	if err != nil || n == 0 {
		return nil, err
	}
	if n > maxFilter {
		return nil, os.NewSyscallError("getsockopt(SO_GET_FILTER)", unix.E2BIG)
	}
	f := make([]unix.SockFilter, n)
	got, err := linux.GetsockoptSockFilter(fd, f)
	if err != nil {
		return nil, err
	}
	return f[:min(got, n)], nil
}
