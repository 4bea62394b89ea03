package ptybuf

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

// openPty opens a pty (master, slave, index) in packet mode, closed at
// the end of t.
func openPty(t *testing.T) (int, int, uint32) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("needs /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { unix.Close(m) })
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	idx, err := unix.IoctlGetUint32(m, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := unix.Open(fmt.Sprintf("/dev/pts/%d", idx), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s) })
	if err := unix.IoctlSetPointerInt(m, unix.TIOCPKT, 1); err != nil {
		t.Fatal(err)
	}
	return m, s, idx
}

// In packet mode the bytes waiting in a master are copied as they were
// written (no status byte among them) and left in place, packet mode
// still on: a read gives TIOCPKT_DATA, then the bytes.
func TestKeepQueuedPacketMode(t *testing.T) {
	if !CapSysAdmin() {
		t.Skip("needs CAP_SYS_ADMIN (TIOCSTI)")
	}
	m, s, idx := openPty(t)
	want := []byte("abc\x00\x01def")
	if _, err := unix.Write(s, want); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < 1000 && n != len(want); i++ {
		n, _ = Queued(m)
		time.Sleep(time.Millisecond)
	}
	pkt, err := PacketMode(m, idx)
	if err != nil || !pkt {
		t.Fatalf("packetMode = %v, %v; want true", pkt, err)
	}
	got, err := KeepQueued(m, idx, n, pkt)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("keepQueued = %q, %v; want %q", got, err, want)
	}
	if p, err := unix.IoctlGetInt(m, unix.TIOCGPKT); err != nil || p == 0 {
		t.Fatalf("packet mode after the copy: %d %v", p, err)
	}
	b := make([]byte, 64)
	k, err := unix.Read(m, b)
	if err != nil || !bytes.Equal(b[:k], append([]byte{unix.TIOCPKT_DATA}, want...)) {
		t.Fatalf("the master reads %q, %v; want TIOCPKT_DATA and %q", b[:k], err, want)
	}
}

// A status change not yet read from a master in packet mode (here: the
// slave turned flow control off) is refused by name, and left pending.
func TestPacketModeStatusRefused(t *testing.T) {
	m, s, idx := openPty(t)
	tio, err := unix.IoctlGetTermios(s, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Iflag &^= unix.IXON
	if err := unix.IoctlSetTermios(s, unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	if _, err := PacketMode(m, idx); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("packetMode = %v, want ErrUnsupported", err)
	}
	b := make([]byte, 8)
	k, err := unix.Read(m, b)
	if err != nil || k != 1 || b[0] != unix.TIOCPKT_NOSTOP {
		t.Fatalf("the master reads %q, %v; want the pending TIOCPKT_NOSTOP", b[:k], err)
	}
	if _, err := PacketMode(m, idx); err != nil {
		t.Fatalf("packetMode once the status was read: %v", err)
	}
}
