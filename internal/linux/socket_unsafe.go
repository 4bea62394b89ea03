package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SendEmpty is sendmsg(2) of a message of no bytes with the control data
// oob (passed descriptors) on a connected socket, retried once if
// interrupted. x/sys/unix's Sendmsg sends one byte in place of no data
// on any socket but a SOCK_DGRAM one, while an empty SOCK_SEQPACKET
// message is a message of its own.
func SendEmpty(fd int, oob []byte, flags int) error {
	var msg unix.Msghdr
	if len(oob) > 0 {
		msg.Control = &oob[0]
		msg.SetControllen(len(oob))
	}
	err := retryErr(Once, func() error {
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
		return errno(e)
	})
	return os.NewSyscallError("sendmsg", err)
}

// GetsockoptInOut is getsockopt(2) of opt at level with buf as both
// its input (options that take an argument, MCAST_MSFILTER's group) and
// its output; it returns the length the kernel gave back. x/sys/unix
// has no getsockopt whose buffer goes in.
func GetsockoptInOut(fd, level, opt int, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, os.NewSyscallError("getsockopt", unix.EINVAL)
	}
	l := uint32(len(buf))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, os.NewSyscallError("getsockopt", e)
	}
	return int(l), nil
}

// BindPacketDevice is bind(2) of a SOCK_PACKET socket to the network
// device name (struct sockaddr: AF_PACKET, the name in sa_data), for
// which x/sys/unix has no sockaddr.
func BindPacketDevice(fd int, name string) error {
	var sa unix.RawSockaddr
	if name == "" || len(name) >= len(sa.Data) {
		return os.NewSyscallError("bind", unix.EINVAL)
	}
	sa.Family = unix.AF_PACKET
	for i := 0; i < len(name); i++ {
		sa.Data[i] = int8(name[i])
	}
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	return os.NewSyscallError("bind", errno(e))
}
