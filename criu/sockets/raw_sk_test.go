package sockets

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// selfTree is a Tree of this process's own network namespace.
type selfTree struct{ next uint32 }

func (*selfTree) NetDo(f func() error) error { return f() }
func (t *selfTree) FileID() uint32           { t.next++; return t.next }
func (*selfTree) AddFile(*images.FileEntry)  {}

func addSock(t *testing.T, s *Set, fd int) (*images.FileEntry, error) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return s.Add(1, fd, fd, &st, unix.O_RDWR)
}

// A raw socket connected to 127.0.0.1 and shut down for reading is
// saved with its peer (which getpeername does not give) and shutdown,
// and made again connected: send without an address works.
func TestRawConnected(t *testing.T) {
	crtest.RequireRoot(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 253)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Shutdown(fd, unix.SHUT_RD); err != nil {
		t.Fatal(err)
	}
	e, err := addSock(t, NewSet(&selfTree{}, Options{}), fd)
	if err != nil {
		t.Fatal(err)
	}
	isk := e.GetIsk()
	if isk.GetType() != unix.SOCK_RAW || isk.GetProto() != 253 || isk.GetState() != tcpEstablished ||
		len(isk.GetDstAddr()) != 1 || isk.GetDstAddr()[0] != 0x0100007f || isk.GetShutdown() != images.SkShutdown_READ {
		t.Fatalf("dumped %v", isk)
	}
	n, err := OpenInet(isk)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(n)
	if err := unix.Send(n, []byte("x"), 0); err != nil {
		t.Errorf("send on the restored socket: %v (not connected again)", err)
	}
	p := []unix.PollFd{{Fd: int32(n), Events: unix.POLLRDHUP}}
	if _, err := unix.Poll(p, 0); err != nil || p[0].Revents&unix.POLLRDHUP == 0 {
		t.Errorf("the restored socket is not shut down for reading (%#x, %v)", p[0].Revents, err)
	}
}

// A packet socket with a SOL_PACKET option its entry has no field for
// fails the dump by the option's name.
func TestPacketUnsavedRefused(t *testing.T) {
	crtest.RequireRoot(t)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		t.Fatal(err)
	}
	_, err = addSock(t, NewSet(&selfTree{}, Options{}), fd)
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(fmt.Sprint(err), "PACKET_QDISC_BYPASS") {
		t.Fatalf("dump: %v, want ErrUnsupported naming PACKET_QDISC_BYPASS", err)
	}
}
