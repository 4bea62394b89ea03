package soccr

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

// pair is a connection on loopback: the client c, the accepted s.
func pair(t *testing.T) (c, s int) {
	t.Helper()
	return pairSet(t, func(l, c int) error { return nil })
}

// pairSet is pair, set(l, c) called on the listener l and the client c
// before c connects.
func pairSet(t *testing.T, set func(l, c int) error) (c, s int) {
	t.Helper()
	l, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l)
	if err := unix.Bind(l, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 1); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(l)
	if c, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		t.Fatal(err)
	}
	if err := set(l, c); err != nil {
		unix.Close(c)
		t.Fatal(err)
	}
	if err := unix.Connect(c, sa); err != nil {
		t.Fatal(err)
	}
	if s, _, err = unix.Accept4(l, unix.SOCK_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	return c, s
}

func read(t *testing.T, fd int, want string) {
	t.Helper()
	b := make([]byte, len(want)+1)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	n, err := unix.Read(fd, b)
	if err != nil || string(b[:n]) != want {
		t.Fatalf("read %q, %v; want %q", b[:max(n, 0)], err, want)
	}
}

// TestSaveRestore: the server end of a connection is saved in repair
// mode, closed (silently), rebuilt on a new socket and resumed: what it
// had not read is still there, and the client, which saw nothing, talks
// on with it.
func TestSaveRestore(t *testing.T) {
	crtest.RequireRoot(t)
	c, s := pair(t)
	defer unix.Close(c)
	if _, err := unix.Write(c, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := Pause(s); err != nil {
		t.Fatal(err)
	}
	st, err := Save(s)
	if err != nil {
		unix.Close(s)
		t.Fatal(err)
	}
	if string(st.InQ) != "ping" || len(st.OutQ) != 0 || st.Entry.GetMssClamp() == 0 {
		t.Fatalf("saved %v, queues %q %q", st.Entry, st.InQ, st.OutQ)
	}
	src, _ := unix.Getsockname(s)
	dst, _ := unix.Getpeername(s)
	unix.Close(s) // in repair mode: no FIN, no RST
	n, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(n)
	if err := Restore(n, st, src, dst, false); err != nil {
		t.Fatal(err)
	}
	if err := ResumeRestored([]Restored{{Fd: n, Unsent: st.Unsent()}}); err != nil {
		t.Fatal(err)
	}
	read(t, n, "ping")
	if _, err := unix.Write(n, []byte("pong")); err != nil {
		t.Fatal(err)
	}
	read(t, c, "pong")
	if _, err := unix.Write(c, []byte("again")); err != nil {
		t.Fatal(err)
	}
	read(t, n, "again")
}

// TestClosed: a socket restored closed is as CRIU 4.2's --tcp-close
// leaves it: in state CLOSE, it reads end of file, polls POLLHUP, and a
// write fails with EPIPE.
func TestClosed(t *testing.T) {
	n, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(n)
	if err := Closed(n); err != nil {
		t.Fatal(err)
	}
	if st, err := unix.GetsockoptTCPInfo(n, unix.IPPROTO_TCP, unix.TCP_INFO); err != nil || st.State != unix.BPF_TCP_CLOSE {
		t.Errorf("TCP_INFO: state %v (%v), want CLOSE", st, err)
	}
	if c, err := unix.Read(n, make([]byte, 1)); c != 0 || err != nil {
		t.Errorf("read: %d, %v, want end of file", c, err)
	}
	p := []unix.PollFd{{Fd: int32(n), Events: unix.POLLHUP}}
	if c, err := unix.Poll(p, 0); c != 1 || err != nil || p[0].Revents != unix.POLLHUP {
		t.Errorf("poll: %d, %v, revents %#x, want POLLHUP", c, err, p[0].Revents)
	}
	if _, err := unix.SendmsgN(n, []byte("x"), nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT); !errors.Is(err, unix.EPIPE) {
		t.Errorf("send: %v, want EPIPE", err)
	}
}
