package sockets

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets/inetdiag"
)

// mptcpSocket makes an MPTCP socket of family, or skips the test on a
// kernel without MPTCP.
func mptcpSocket(t *testing.T, family int) int {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOPROTOOPT) || errors.Is(err, unix.EINVAL) {
		t.Skipf("no MPTCP in this kernel: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// sock_diag lists an MPTCP listener (the protocol goes in
// INET_DIAG_REQ_PROTOCOL, past sdiag_protocol's byte) with its shutdown
// bits, for IPv4 and IPv6.
func TestListInetShutdownMPTCP(t *testing.T) {
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		fd := mptcpSocket(t, family)
		var sa unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
		if family == unix.AF_INET6 {
			sa = &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
		}
		if err := unix.Bind(fd, sa); err != nil {
			t.Fatal(err)
		}
		if err := unix.Listen(fd, 3); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		m, err := inetdiag.Shutdowns(family, unix.IPPROTO_MPTCP)
		if errors.Is(err, unix.ENOENT) {
			t.Skipf("no mptcp_diag in this kernel: %v", err)
		}
		if err != nil {
			t.Fatalf("sock_diag: %v", err)
		}
		if _, ok := m[uint32(st.Ino)]; !ok {
			t.Errorf("family %d: listener socket:[%d] not listed (%d sockets)", family, st.Ino, len(m))
		}
		// What is listed is MPTCP's, not TCP's (262 cut to a byte is
		// TCP's 6): a plain TCP listener is not in it.
		tfd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(tfd)
		if err := unix.Bind(tfd, sa); err != nil {
			t.Fatal(err)
		}
		if err := unix.Listen(tfd, 3); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fstat(tfd, &st); err != nil {
			t.Fatal(err)
		}
		if m, err = inetdiag.Shutdowns(family, unix.IPPROTO_MPTCP); err != nil {
			t.Fatal(err)
		}
		if _, ok := m[uint32(st.Ino)]; ok {
			t.Errorf("family %d: the TCP listener socket:[%d] is listed as MPTCP", family, st.Ino)
		}
	}
}
