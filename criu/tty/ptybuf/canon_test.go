package ptybuf

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/internal/linux"
)

// canonPty is a pty in canonical mode with echo, its echo drained, with
// in typed into it; it returns the master, a non-blocking slave opened
// from it (as dump opens one), and the index.
func canonPty(t *testing.T, in string) (int, int, uint32, *unix.Termios) {
	t.Helper()
	m, s, idx := openPty(t)
	if err := unix.IoctlSetPointerInt(m, unix.TIOCPKT, 0); err != nil {
		t.Fatal(err)
	}
	tio, err := unix.IoctlGetTermios(s, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag |= unix.ICANON | unix.ECHO
	if err := unix.IoctlSetTermios(s, unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(m, []byte(in)); err != nil {
		t.Fatal(err)
	}
	drainMaster(t, m)
	sl, err := linux.IoctlGetPtyPeer(m, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(sl) })
	return m, sl, idx, tio
}

// drainMaster reads the master until nothing more comes, and returns
// how many bytes came.
func drainMaster(t *testing.T, m int) int {
	t.Helper()
	got := 0
	b := make([]byte, 512)
	for {
		fds := []unix.PollFd{{Fd: int32(m), Events: unix.POLLIN}}
		if n, _ := linux.Poll(fds, 100); n != 1 {
			return got
		}
		k, err := unix.Read(m, b)
		if err != nil || k == 0 {
			return got
		}
		got += k
	}
}

// Complete lines and the line being typed are kept, left in place as
// the same lines, and not echoed again.
func TestKeepCanon(t *testing.T) {
	if !CapSysAdmin() {
		t.Skip("needs CAP_SYS_ADMIN (TIOCSTI)")
	}
	m, sl, idx, tio := canonPty(t, "one\ntwo\nthr")
	n, err := Queued(sl)
	if err != nil || n != 8 {
		t.Fatalf("Queued = %d, %v; want 8", n, err)
	}
	got, err := KeepCanon(sl, idx, tio, n)
	if err != nil || string(got) != "one\ntwo\nthr" {
		t.Fatalf("KeepCanon = %q, %v", got, err)
	}
	if k := drainMaster(t, m); k != 0 {
		t.Errorf("%d bytes echoed again", k)
	}
	b := make([]byte, 64)
	for _, want := range []string{"one\n", "two\n"} {
		k, err := unix.Read(sl, b)
		if err != nil || string(b[:k]) != want {
			t.Fatalf("read %q, %v; want %q", b[:k], err, want)
		}
	}
	if _, err := unix.Read(sl, b); err != unix.EAGAIN {
		t.Fatalf("the typed line is complete or gone: %v", err)
	}
	unix.Write(m, []byte("ee\n"))
	if k, err := unix.Read(sl, b); err != nil || string(b[:k]) != "three\n" {
		t.Fatalf("read %q, %v; want the typed line", b[:k], err)
	}
}

// A line ended by EOF is refused, and left in place, ended so.
func TestKeepCanonEOFRefused(t *testing.T) {
	if !CapSysAdmin() {
		t.Skip("needs CAP_SYS_ADMIN (TIOCSTI)")
	}
	_, sl, idx, tio := canonPty(t, "abc\x04")
	n, _ := Queued(sl)
	if _, err := KeepCanon(sl, idx, tio, n); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("KeepCanon = %v, want ErrUnsupported", err)
	}
	b := make([]byte, 64)
	if k, err := unix.Read(sl, b); err != nil || string(b[:k]) != "abc" {
		t.Fatalf("read %q, %v; want the line", b[:k], err)
	}
	if _, err := unix.Read(sl, b); err != unix.EAGAIN {
		t.Fatalf("more after the line: %v", err)
	}
}
