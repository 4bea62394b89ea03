package soccr

import (
	"errors"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestFinWait1OverfullQueue: a's end of a loopback connection holds,
// unsent behind b's window, its last 32 KiB written with MSG_EOR (a
// segment of their own); a sets its send buffer just above what its
// queue takes then, so that one more send starts a second segment and
// fills it whole, past the buffer (the kernel looks for room only
// before it starts a segment), and shuts down: FIN_WAIT1. Those bytes
// written again from an empty queue, in segments of the restored
// socket's size, find no room for the last ones: restore writes them
// all still (socket-tcp4v6-fin-wait1 failed one run in two), the
// buffer as a set it, and b reads them all, then the end of file.
func TestFinWait1OverfullQueue(t *testing.T) {
	crtest.RequireRoot(t)
	a, b := wideRecvPair(t)
	defer unix.Close(b)
	off := 0
	for {
		off = writeEOR(t, a, off, 32<<10)
		if !drains(t, a) {
			break
		}
	}
	half := int(wmemQueued(t, a)/2 + 1) // SO_SNDBUF sets twice this
	if err := unix.SetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF, half); err != nil {
		t.Fatal(err)
	}
	size, _ := unix.GetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF)
	p := make([]byte, 1<<20)
	for i := range p {
		p[i] = streamByte(0, off+i)
	}
	n, err := unix.SendmsgN(a, p, nil, nil, unix.MSG_DONTWAIT)
	if err != nil {
		t.Fatal(err)
	}
	off += n
	if _, err := unix.SendmsgN(a, p[:1], nil, nil, unix.MSG_DONTWAIT); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("a's buffer not full: %v", err)
	}
	if q := wmemQueued(t, a); int(q) <= size {
		t.Fatalf("a's queue takes %d bytes of its buffer of %d: not past it", q, size)
	}
	if err := unix.Shutdown(a, unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, StateFinWait1)
	if err := Pause(a); err != nil {
		t.Fatal(err)
	}
	st, err := Save(a)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := unix.Getsockname(a)
	dst, _ := unix.Getpeername(a)
	unix.Close(a)
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(c)
	// Set before Restore, as the socket's options are.
	if err := unix.SetsockoptInt(c, unix.SOL_SOCKET, unix.SO_SNDBUF, half); err != nil {
		t.Fatal(err)
	}
	if err := Restore(c, st, src, dst, false); err != nil {
		t.Fatal(err)
	}
	if err := ResumeRestored([]Restored{{Fd: c, Unsent: st.UnsentAtResume()}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := unix.GetsockoptInt(c, unix.SOL_SOCKET, unix.SO_SNDBUF); got != size {
		t.Errorf("restored SO_SNDBUF %d, a's %d", got, size)
	}
	if lock, _ := unix.GetsockoptInt(c, unix.SOL_SOCKET, unix.SO_BUF_LOCK); lock&1 == 0 {
		t.Errorf("restored SO_BUF_LOCK %d: the send buffer's size a set is not locked", lock)
	}
	readStream(t, b, 0, 0, off, true)
	waitFor(t, c, StateFinWait2)
}

// wideRecvPair is a loopback connection a to b, b with a receive
// buffer of 2 MiB (a window wide enough for a's segments to be of the
// largest size), a without Nagle.
func wideRecvPair(t *testing.T) (a, b int) {
	t.Helper()
	return pairSet(t, func(l, a int) error {
		if err := unix.SetsockoptInt(l, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20); err != nil {
			return err
		}
		return unix.SetsockoptInt(a, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	})
}

// writeEOR writes bytes [off, off+n) of stream 0 on fd with MSG_EOR
// (no later send adds to their segment); it returns off+n.
func writeEOR(t *testing.T, fd, off, n int) int {
	t.Helper()
	p := make([]byte, n)
	for i := range p {
		p[i] = streamByte(0, off+i)
	}
	if k, err := unix.SendmsgN(fd, p, nil, nil, unix.MSG_EOR); err != nil || k != n {
		t.Fatalf("send %d bytes: %d, %v", n, k, err)
	}
	return off + n
}

// drains tells whether fd's send queue empties (its peer acks it all)
// within 200ms.
func drains(t *testing.T, fd int) bool {
	t.Helper()
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; time.Sleep(100 * time.Microsecond) {
		if q, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ); err != nil {
			t.Fatal(err)
		} else if q == 0 {
			return true
		}
	}
	return false
}

// wmemQueued is what fd's send queue takes of its buffer
// (SO_MEMINFO's SK_MEMINFO_WMEM_QUEUED, 5).
func wmemQueued(t *testing.T, fd int) uint32 {
	t.Helper()
	var m [9]uint32 // SK_MEMINFO_VARS
	l := uint32(unsafe.Sizeof(m))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&m)), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
		t.Fatal(os.NewSyscallError("getsockopt(SO_MEMINFO)", e))
	}
	return m[5]
}
