package linux

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// IoctlTunGetFilter is ioctl(TUNGETFILTER) on a tap fd: the length of
// the socket filter attached to the device (0 for none).
func IoctlTunGetFilter(fd int) (uint16, error) {
	var p SockFprog
	_, err := ioctlPtr(fd, unix.TUNGETFILTER, unsafe.Pointer(&p))
	return p.Len, err
}
