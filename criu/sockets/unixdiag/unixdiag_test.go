package unixdiag

import (
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// tcpListen is the kernel's TCP_LISTEN, the state of a listening UNIX
// socket too.
const tcpListen = 10

func attr(typ uint16, v []byte) []byte {
	b := make([]byte, 4, 4+len(v)+3)
	binary.LittleEndian.PutUint16(b, uint16(4+len(v)))
	binary.LittleEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestParseUnixDiag(t *testing.T) {
	le := binary.LittleEndian
	msg := make([]byte, unixDiagMsgLen)
	msg[1], msg[2] = unix.SOCK_STREAM, tcpListen
	le.PutUint32(msg[4:], 1234)
	msg = append(msg, attr(unixDiagName, []byte("\x00abs"))...)
	msg = append(msg, attr(unixDiagPeer, le.AppendUint32(nil, 99))...)
	msg = append(msg, attr(unixDiagRQLen, le.AppendUint64(nil, 7<<32|2))...)
	msg = append(msg, attr(unixDiagIcons, le.AppendUint32(le.AppendUint32(nil, 5), 6))...)
	msg = append(msg, attr(unixDiagShutdown, []byte{3})...)
	d, err := parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Ino != 1234 || d.Type != unix.SOCK_STREAM || d.State != tcpListen || string(d.Name) != "\x00abs" ||
		d.Peer != 99 || d.RQLen != 2 || d.WQLen != 7 || len(d.Icons) != 2 || d.Icons[1] != 6 || d.Shutdown != 3 {
		t.Errorf("%+v", d)
	}
	if _, err := parse(msg[:10]); err == nil {
		t.Error("short message parsed")
	}
	bad := append(append([]byte{}, msg[:unixDiagMsgLen]...), 0xff, 0, 0, 0)
	if _, err := parse(bad); err == nil {
		t.Error("bad attribute length parsed")
	}
}

// List finds both ends of a socketpair of ours, each the
// other's peer.
func TestListUnixSockets(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	var st [2]unix.Stat_t
	for i := range fds {
		if err := unix.Fstat(fds[i], &st[i]); err != nil {
			t.Fatal(err)
		}
	}
	all, err := List()
	// Only a kernel without sock_diag (no NETLINK_SOCK_DIAG, or no
	// unix_diag for AF_UNIX) is a reason not to test it.
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOENT) {
		t.Skipf("no sock_diag for UNIX sockets in this kernel: %v", err)
	}
	if err != nil {
		t.Fatalf("sock_diag: %v", err)
	}
	a, b := all[uint32(st[0].Ino)], all[uint32(st[1].Ino)]
	if a == nil || b == nil || a.Peer != b.Ino || b.Peer != a.Ino || a.Type != unix.SOCK_DGRAM {
		t.Errorf("pair: %+v %+v", a, b)
	}
}
