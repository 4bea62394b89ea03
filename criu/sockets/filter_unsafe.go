package sockets

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxFilter caps the instructions of a classic BPF socket filter
// (BPF_MAXINSNS).
const maxFilter = 4096

// socketFilter reads the classic BPF filter attached to fd
// (SO_GET_FILTER): nil if none. getsockopt with a zero length gives the
// number of instructions, then the instructions themselves.
func socketFilter(fd int) ([]unix.SockFilter, error) {
	get := func(buf unsafe.Pointer, n uint32) (uint32, error) {
		l := n * uint32(unsafe.Sizeof(unix.SockFilter{}))
		if n == 0 {
			l = 0
		}
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_GET_FILTER, uintptr(buf), uintptr(unsafe.Pointer(&l)), 0)
		if e == unix.EINTR {
			_, _, e = unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_GET_FILTER, uintptr(buf), uintptr(unsafe.Pointer(&l)), 0)
		}
		if e != 0 {
			return 0, os.NewSyscallError("getsockopt(SO_GET_FILTER)", e)
		}
		return l, nil // in instructions
	}
	n, err := get(nil, 0)
	if err != nil || n == 0 {
		return nil, err
	}
	if n > maxFilter {
		return nil, os.NewSyscallError("getsockopt(SO_GET_FILTER)", unix.E2BIG)
	}
	f := make([]unix.SockFilter, n)
	got, err := get(unsafe.Pointer(&f[0]), n)
	if err != nil {
		return nil, err
	}
	return f[:min(got, n)], nil
}
