package soccr

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// deaf is a listener on loopback whose socket filter drops every
// packet: a connect to it stays in SYN_SENT.
func deaf(t *testing.T) unix.Sockaddr {
	t.Helper()
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(l) })
	if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 1); err != nil {
		t.Fatal(err)
	}
	drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	if err := unix.SetsockoptSockFprog(l, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &drop[0]}); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(l)
	return sa
}

// TestSaveSynSent: a connect in progress is saved in SYN_SENT with
// no queues; one that had bytes to send with its SYN but no Fast Open
// cookie (MSG_FASTOPEN: the kernel sent a plain SYN and took none of
// them) is saved the same.
func TestSaveSynSent(t *testing.T) {
	crtest.RequireRoot(t)
	sa := deaf(t)
	for _, fastOpen := range []bool{false, true} {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fastOpen {
			err = unix.Sendto(fd, []byte("early"), unix.MSG_FASTOPEN, sa)
		} else {
			err = unix.Connect(fd, sa)
		}
		if !errors.Is(err, unix.EINPROGRESS) {
			unix.Close(fd)
			t.Fatalf("fast open %v: connect: %v", fastOpen, err)
		}
		if err := Pause(fd); err != nil {
			t.Fatal(err)
		}
		st, err := Save(fd)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("fast open %v: Save: %v", fastOpen, err)
		}
		if st.State != StateSynSent || len(st.InQ) != 0 || len(st.OutQ) != 0 {
			t.Errorf("fast open %v: saved %s, queues %d and %d", fastOpen, StateName(st.State), len(st.InQ), len(st.OutQ))
		}
	}
}
