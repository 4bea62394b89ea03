package soccr

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/netlock"
	"github.com/criugo/criu/internal/linux"
)

func TestMarkIsTheLocksMark(t *testing.T) {
	if Mark != netlock.Mark {
		t.Fatalf("soccr.Mark %#x, netlock.Mark %#x: the lock would drop the FINs restore sends", Mark, netlock.Mark)
	}
}

// pairOf is pair in family, with small buffers (b's receive buffer
// fills with little data).
func pairOf(t *testing.T, family int) (a, b int) {
	t.Helper()
	var any unix.Sockaddr = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if family == unix.AF_INET6 {
		any = &unix.SockaddrInet6{Addr: [16]byte{15: 1}}
	}
	l, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l)
	for _, fd := range []int{l} {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8192)
	}
	if err := unix.Bind(l, any); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(l, 1); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(l)
	if a, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF, 8192)
	if err := unix.Connect(a, sa); err != nil {
		t.Fatal(err)
	}
	if b, _, err = unix.Accept4(l, unix.SOCK_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func streamByte(dir, off int) byte { return byte(off*7 + off>>8 + dir*101) }

// fill writes stream dir on fd from off until it would block; it
// returns the new offset.
func fill(t *testing.T, fd, dir, off int) int {
	t.Helper()
	b := make([]byte, 1024)
	for {
		for i := range b {
			b[i] = streamByte(dir, off+i)
		}
		n, err := unix.SendmsgN(fd, b, nil, nil, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return off
		}
		if err != nil {
			t.Fatal(err)
		}
		off += n
	}
}

// writeStream writes bytes [from, to) of stream dir on fd.
func writeStream(t *testing.T, fd, dir, from, to int) {
	t.Helper()
	b := make([]byte, to-from)
	for i := range b {
		b[i] = streamByte(dir, from+i)
	}
	if n, err := unix.Write(fd, b); n != len(b) || err != nil {
		t.Fatalf("write %d bytes: %d, %v", len(b), n, err)
	}
}

// readStream reads bytes [from, to) of stream dir on fd, then, with
// eof, the end of the stream.
func readStream(t *testing.T, fd, dir, from, to int, eof bool) {
	t.Helper()
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 10})
	b := make([]byte, 4096)
	for from < to || eof {
		n, err := unix.Read(fd, b[:min(len(b), max(to-from, 1))])
		if err != nil {
			t.Fatalf("stream %d: read at %d of %d: %v", dir, from, to, err)
		}
		if n == 0 {
			if from < to {
				t.Fatalf("stream %d: end of file at %d of %d", dir, from, to)
			}
			return
		}
		if from+n > to {
			t.Fatalf("stream %d: %d bytes past its end %d", dir, from+n-to, to)
		}
		for i := range n {
			if b[i] != streamByte(dir, from+i) {
				t.Fatalf("stream %d: byte %d is %#x, want %#x", dir, from+i, b[i], streamByte(dir, from+i))
			}
		}
		from += n
	}
}

func stateOf(t *testing.T, fd int) uint32 {
	t.Helper()
	ti, err := linux.GetTCPInfoHead(fd)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(ti.State)
}

// waitFor waits until fd is in state.
func waitFor(t *testing.T, fd int, state uint32) {
	t.Helper()
	for start := time.Now(); stateOf(t, fd) != state; time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("socket in %s, want %s", StateName(stateOf(t, fd)), StateName(state))
		}
	}
}

// dumpRestore saves a (in repair mode), closes it silently and rebuilds
// it on a new socket, resumed: the new socket.
func dumpRestore(t *testing.T, family, a int) int {
	t.Helper()
	if err := Pause(a); err != nil {
		t.Fatal(err)
	}
	st, err := Save(a)
	if err != nil {
		unix.Close(a)
		t.Fatal(err)
	}
	src, _ := unix.Getsockname(a)
	dst, _ := unix.Getpeername(a)
	unix.Close(a)
	n, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := Restore(n, st, src, dst, false); err != nil {
		unix.Close(n)
		t.Fatalf("restore %s: %v", StateName(st.State), err)
	}
	if got := stateOf(t, n); got != st.State {
		unix.Close(n)
		t.Fatalf("restored in %s, saved in %s", StateName(got), StateName(st.State))
	}
	if err := ResumeRestored([]Restored{{Fd: n, Unsent: st.UnsentAtResume()}}); err != nil {
		unix.Close(n)
		t.Fatal(err)
	}
	if err := unix.SetNonblock(n, false); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHalfClosed: a's end of a loopback connection is brought to each
// half-closed state, saved, closed silently and rebuilt in the same
// state (its FINs put back); what was in flight both ways arrives once,
// in order, and each side sees the other's end of file.
func TestHalfClosed(t *testing.T) {
	crtest.RequireRoot(t)
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		for _, tc := range []struct {
			state uint32
			run   func(t *testing.T, family, a, b int)
		}{
			{StateFinWait2, finWait2}, {StateCloseWait, closeWait}, {StateFinWait1, finWait1},
			{StateLastAck, lastAck}, {StateClosing, closing},
		} {
			t.Run(fmt.Sprintf("%s/ipv%d", StateName(tc.state), map[int]int{unix.AF_INET: 4, unix.AF_INET6: 6}[family]), func(t *testing.T) {
				a, b := pairOf(t, family)
				defer unix.Close(b)
				tc.run(t, family, a, b)
			})
		}
	}
}

// finWait2: a shut down its side, b acked; after restore a reads b's
// tail and end of file.
func finWait2(t *testing.T, family, a, b int) {
	unix.Shutdown(a, unix.SHUT_WR)
	waitFor(t, a, StateFinWait2)
	readStream(t, b, 0, 0, 0, true)
	n := dumpRestore(t, family, a)
	defer unix.Close(n)
	w := fill(t, b, 1, 0)
	unix.Shutdown(b, unix.SHUT_WR)
	readStream(t, n, 1, 0, w, true)
}

// closeWait: b wrote, then shut down; a, which read nothing, reads it
// all and the end of file after restore, and still writes its reply.
func closeWait(t *testing.T, family, a, b int) {
	w := 1000
	writeStream(t, b, 1, 0, w)
	unix.Shutdown(b, unix.SHUT_WR)
	waitFor(t, a, StateCloseWait)
	n := dumpRestore(t, family, a)
	defer unix.Close(n)
	readStream(t, n, 1, 0, w, true)
	if _, err := unix.Write(n, []byte("reply")); err != nil {
		t.Fatal(err)
	}
	unix.Shutdown(n, unix.SHUT_WR)
	readStream(t, b, 0, 0, 0, false)
	got := make([]byte, 6)
	unix.SetsockoptTimeval(b, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 10})
	if k, err := unix.Read(b, got); err != nil || string(got[:k]) != "reply" {
		t.Fatalf("b read %q, %v", got[:max(k, 0)], err)
	}
	if k, err := unix.Read(b, got); k != 0 || err != nil {
		t.Fatalf("b read %d, %v; want end of file", k, err)
	}
}

// finWait1: b does not read, so a's last bytes and its FIN wait unsent
// behind b's full window; after restore b reads them all, then the end
// of file, and a still reads what b writes.
func finWait1(t *testing.T, family, a, b int) {
	w := fill(t, a, 0, 0)
	unix.Shutdown(a, unix.SHUT_WR)
	waitFor(t, a, StateFinWait1)
	n := dumpRestore(t, family, a)
	defer unix.Close(n)
	readStream(t, b, 0, 0, w, true)
	waitFor(t, n, StateFinWait2)
	if _, err := unix.Write(b, []byte{streamByte(1, 0)}); err != nil {
		t.Fatal(err)
	}
	unix.Shutdown(b, unix.SHUT_WR)
	readStream(t, n, 1, 0, 1, true)
}

// lastAck: b shut down; a wrote more than b's window takes, then shut
// down too; after restore b reads all of a's bytes and the end of file,
// and a reads b's end of file.
func lastAck(t *testing.T, family, a, b int) {
	unix.Shutdown(b, unix.SHUT_WR)
	waitFor(t, a, StateCloseWait)
	w := fill(t, a, 0, 0)
	unix.Shutdown(a, unix.SHUT_WR)
	waitFor(t, a, StateLastAck)
	n := dumpRestore(t, family, a)
	defer unix.Close(n)
	readStream(t, n, 1, 0, 0, true)
	readStream(t, b, 0, 0, w, true)
	waitFor(t, n, StateClose)
}

// closing: a's bytes and FIN wait behind b's full window when b's FIN
// comes: both FINs crossed (CLOSING). After restore b reads a's bytes
// and end of file, a reads b's end of file.
func closing(t *testing.T, family, a, b int) {
	w := fill(t, a, 0, 0)
	unix.Shutdown(a, unix.SHUT_WR)
	unix.Shutdown(b, unix.SHUT_WR)
	waitFor(t, a, StateClosing)
	n := dumpRestore(t, family, a)
	defer unix.Close(n)
	readStream(t, n, 1, 0, 0, true)
	readStream(t, b, 0, 0, w, true)
}
