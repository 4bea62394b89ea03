package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// getsockopt is getsockopt(2) into the l bytes at p, retried once if
// interrupted; it returns the length the kernel wrote.
func getsockopt(fd, level, opt int, p unsafe.Pointer, l uint32) (uint32, error) {
	err := retryErr(Once, func() error {
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
		return errno(e)
	})
	return l, err
}

// GetTCPInfoHead is getsockopt(TCP_INFO) for the first 8 bytes of
// struct tcp_info.
func GetTCPInfoHead(fd int) (TCPInfoHead, error) {
	var h TCPInfoHead
	_, err := getsockopt(fd, unix.IPPROTO_TCP, unix.TCP_INFO, unsafe.Pointer(&h), uint32(unsafe.Sizeof(h)))
	return h, os.NewSyscallError("getsockopt(TCP_INFO)", err)
}

// GetTCPRepairWindow is getsockopt(TCP_REPAIR_WINDOW), of a socket in
// repair mode.
func GetTCPRepairWindow(fd int) (TCPRepairWindow, error) {
	var w TCPRepairWindow
	_, err := getsockopt(fd, unix.IPPROTO_TCP, unix.TCP_REPAIR_WINDOW, unsafe.Pointer(&w), uint32(unsafe.Sizeof(w)))
	return w, os.NewSyscallError("getsockopt(TCP_REPAIR_WINDOW)", err)
}

// SetTCPRepairWindow is setsockopt(TCP_REPAIR_WINDOW), on a connected
// socket in repair mode whose receive queue is restored.
func SetTCPRepairWindow(fd int, w *TCPRepairWindow) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_REPAIR_WINDOW, uintptr(unsafe.Pointer(w)), unsafe.Sizeof(*w), 0)
	return os.NewSyscallError("setsockopt(TCP_REPAIR_WINDOW)", errno(e))
}

// ConnectUnspec is connect(2) to an AF_UNSPEC address: it dissolves a
// connection (a TCP socket's tcp_disconnect; in repair mode no RST is
// sent and the socket's error becomes ECONNABORTED).
func ConnectUnspec(fd int) error {
	var sa unix.RawSockaddr // Family 0: AF_UNSPEC
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	return os.NewSyscallError("connect(AF_UNSPEC)", errno(e))
}
