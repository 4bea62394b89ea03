package netlock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// ClosedConn is the connection a TCP socket of task pid (its fd) had,
// when the socket is closed (TCP_CLOSE: after both FINs, or a reset)
// and keeps its peer's address (SO_PEERNAME): ok is false for any other
// socket. The kernel lists no closed socket in /proc/net/tcp; the fd is
// taken with pidfd_getfd. An fd gone meanwhile is no error.
func ClosedConn(pid, fd int) (c Conn, ok bool, err error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return c, false, fmt.Errorf("closed TCP sockets of %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	sk, err := unix.PidfdGetfd(pidfd, fd, 0)
	if errors.Is(err, unix.EBADF) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("closed TCP sockets of %d: fd %d: %w", pid, fd, err)
	}
	defer unix.Close(sk)
	dom, err1 := unix.GetsockoptInt(sk, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, err2 := unix.GetsockoptInt(sk, unix.SOL_SOCKET, unix.SO_TYPE)
	prot, err3 := unix.GetsockoptInt(sk, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err1 != nil || err2 != nil || err3 != nil || dom != unix.AF_INET && dom != unix.AF_INET6 ||
		typ != unix.SOCK_STREAM || prot != unix.IPPROTO_TCP {
		return c, false, nil
	}
	info, err := unix.GetsockoptTCPInfo(sk, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return c, false, fmt.Errorf("closed TCP sockets of %d: fd %d: TCP_INFO: %w", pid, fd, err)
	}
	if info.State != tcpClose {
		return c, false, nil
	}
	remote, ok := peerName(sk, dom)
	if !ok {
		return c, false, nil // never connected
	}
	sa, err := unix.Getsockname(sk)
	if err != nil {
		return c, false, fmt.Errorf("closed TCP sockets of %d: fd %d: %w", pid, fd, err)
	}
	var local netip.AddrPort
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		local = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		local = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	if local.Port() == 0 || remote.Port() == 0 {
		return c, false, nil
	}
	return Conn{Local: local, Remote: remote}, true, nil
}

// peerName is SO_PEERNAME of sk of family dom (a closed socket keeps
// it, where getpeername answers ENOTCONN): struct sockaddr_in or
// sockaddr_in6, asked for with its exact size (the kernel refuses a
// longer buffer).
func peerName(sk, dom int) (netip.AddrPort, bool) {
	var b [unix.SizeofSockaddrInet6]byte
	size := unix.SizeofSockaddrInet4
	if dom == unix.AF_INET6 {
		size = unix.SizeofSockaddrInet6
	}
	l, err := linux.GetsockoptInOut(sk, unix.SOL_SOCKET, unix.SO_PEERNAME, b[:size])
	if err != nil || l < 2 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(b[2:4])
	switch binary.NativeEndian.Uint16(b[0:2]) {
	case unix.AF_INET:
		if l >= 8 {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port), true
		}
	case unix.AF_INET6:
		if l >= 24 {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), port), true
		}
	}
	return netip.AddrPort{}, false
}
