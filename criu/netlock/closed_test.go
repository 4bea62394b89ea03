package netlock

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// closedPair is a loopback TCP connection both of whose ends are closed
// by their FINs (state CLOSE, the fds open), and a client socket never
// connected; its cleanup closes them.
func closedPair(t *testing.T, family int) (client, server, unconnected int, c Conn) {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	if family == unix.AF_INET6 {
		lo = netip.IPv6Loopback()
	}
	sock := func() int {
		fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	sa := func(a netip.AddrPort) unix.Sockaddr {
		if family == unix.AF_INET6 {
			return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
		}
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	}
	port := func(fd int) uint16 {
		s, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		switch a := s.(type) {
		case *unix.SockaddrInet4:
			return uint16(a.Port)
		case *unix.SockaddrInet6:
			return uint16(a.Port)
		}
		return 0
	}
	l := sock()
	if err := unix.Bind(l, sa(netip.AddrPortFrom(lo, 0))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 1); err != nil {
		t.Fatal(err)
	}
	client, unconnected = sock(), sock()
	if err := unix.Connect(client, sa(netip.AddrPortFrom(lo, port(l)))); err != nil {
		t.Fatal(err)
	}
	server, _, err := unix.Accept(l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(server) })
	c = Conn{Local: netip.AddrPortFrom(lo, port(client)), Remote: netip.AddrPortFrom(lo, port(l))}
	state := func(fd int) uint8 {
		i, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			t.Fatal(err)
		}
		return i.State
	}
	// The client's FIN first: the server goes CLOSE on the ack of its
	// own, the client through TIME_WAIT (its fd: CLOSE).
	unix.Shutdown(client, unix.SHUT_WR)
	for i := 0; i < 2000 && state(server) != 8; i++ { // TCP_CLOSE_WAIT
		time.Sleep(time.Millisecond)
	}
	unix.Shutdown(server, unix.SHUT_WR)
	for i := 0; i < 2000 && (state(server) != tcpClose || state(client) != tcpClose); i++ {
		time.Sleep(time.Millisecond)
	}
	if state(server) != tcpClose || state(client) != tcpClose {
		t.Fatalf("states %d %d, not CLOSE", state(client), state(server))
	}
	return client, server, unconnected, c
}

// TestTreeConnsClosed: a closed socket that had a connection is a
// connection to lock, both of its ends, IPv4 and IPv6, as CRIU 4.2 locks
// it (its restore makes it through TCP repair, sending packets of its
// own); one never connected is not.
func TestTreeConnsClosed(t *testing.T) {
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		client, server, unconnected, c := closedPair(t, family)
		conns, err := TreeConns([]int{os.Getpid()})
		if err != nil {
			t.Fatal(err)
		}
		back := Conn{Local: c.Remote, Remote: c.Local}
		var seen int
		for _, x := range conns {
			if x == c || x == back {
				seen++
			}
		}
		if seen != 2 {
			t.Errorf("family %d: %v lacks %v or %v", family, conns, c, back)
		}
		for _, fd := range []int{client, server} {
			if got, ok, err := ClosedConn(os.Getpid(), fd); err != nil || !ok || got != c && got != back {
				t.Errorf("ClosedConn of fd %d: %v %v %v", fd, got, ok, err)
			}
		}
		if got, ok, err := ClosedConn(os.Getpid(), unconnected); err != nil || ok {
			t.Errorf("ClosedConn of a socket never connected: %v %v %v", got, ok, err)
		}
	}
	// An fd that is not a socket, and one that is gone.
	if _, ok, err := ClosedConn(os.Getpid(), 0); err != nil || ok {
		t.Errorf("fd 0: %v %v", ok, err)
	}
	if _, ok, err := ClosedConn(os.Getpid(), 1<<20); err != nil || ok {
		t.Errorf("no such fd: %v %v", ok, err)
	}
}
