package linux

import (
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// SendRawIP sends pkt, a whole IPv4 or IPv6 packet with its header
// (built by the caller), to dst from a raw socket of this thread's
// network namespace (socket(AF_INET or AF_INET6, SOCK_RAW,
// IPPROTO_RAW): the header is the caller's), marked with SO_MARK mark.
// CAP_NET_RAW and, for the mark, CAP_NET_ADMIN.
func SendRawIP(dst netip.Addr, pkt []byte, mark int) error {
	family := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: dst.As16()}
	if dst.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: dst.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return os.NewSyscallError("socket(SOCK_RAW)", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, mark); err != nil {
		return os.NewSyscallError("setsockopt(SO_MARK)", err)
	}
	return os.NewSyscallError("sendto", retryErr(Once, func() error { return unix.Sendto(fd, pkt, 0, sa) }))
}
