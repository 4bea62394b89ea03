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
