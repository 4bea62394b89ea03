package limits

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/criugo/criu/remoteimg"
)

func TestPeers(t *testing.T) {
	p := Peers{MaxConnsPerPeer: 2, MaxReadersPerPeer: 1, MaxConns: 3}
	for _, peer := range []string{"a", "a", "b"} {
		if err := p.Admit(peer); err != nil {
			t.Fatalf("admit %s: %v", peer, err)
		}
	}
	if err := p.Admit("c"); !errors.Is(err, remoteimg.ErrPermission) || !strings.Contains(err.Error(), "--max-conns") {
		t.Fatalf("over MaxConns: %v", err)
	}
	p.Leave("b")
	if err := p.Admit("a"); !errors.Is(err, remoteimg.ErrPermission) || !strings.Contains(err.Error(), "from this peer (cap 2)") {
		t.Fatalf("over MaxConnsPerPeer: %v", err)
	}
	if !p.Reader("a", 1) || p.Reader("a", 1) {
		t.Fatal("reader cap of 1 not kept")
	}
	p.Reader("a", -1)
	if !p.Reader("a", 1) {
		t.Fatal("reader not uncounted")
	}
	p.Reader("a", -1)
	p.Leave("a")
	p.Leave("a")
	if len(p.peers) != 0 || p.total != 0 {
		t.Fatalf("after every leave: %v %d", p.peers, p.total)
	}
	// The UNIX socket's peer is not counted.
	for range 10 {
		if err := p.Admit(""); err != nil || !p.Reader("", 1) {
			t.Fatalf("UNIX peer: %v", err)
		}
	}
	if p.total != 0 {
		t.Fatalf("UNIX peer counted: %d", p.total)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if k := Key(nc); k != "127.0.0.1" {
		t.Fatalf("key %q", k)
	}
}

func TestBuffers(t *testing.T) {
	for _, tc := range []struct {
		dir    string
		maxMem int64
		share  int64
	}{{"d", 64 << 20, 64 << 20}, {"", 1 << 30, 32 << 20}, {"", 64 << 20, 4 << 20}, {"", 6 << 20, 3 << 20}, {"", 256 << 20, 16 << 20}} {
		if got := Share(tc.dir, tc.maxMem); got != tc.share {
			t.Errorf("Share(%q, %d) = %d, want %d", tc.dir, tc.maxMem, got, tc.share)
		}
	}
	b := NewBuffers("", 64<<20) // a 4 MiB share, 3 MiB for TCP
	if err := b.Charge(true, 2<<20, ForConn); err != nil {
		t.Fatal(err)
	}
	err := b.Charge(true, 2<<20, ForRead)
	if !errors.Is(err, remoteimg.ErrNoSpace) ||
		!strings.Contains(err.Error(), "--max-memory 64.0 MiB cannot hold the buffer of another image read (2.0 MiB of the 3.0 MiB its connections may use is held by 1 connections)") {
		t.Fatalf("TCP over three quarters: %v", err)
	}
	if err := b.Charge(false, 2<<20, ForRead); err != nil {
		t.Fatalf("UNIX within the share: %v", err)
	}
	b.Uncharge(2<<20, ForRead)
	b.Uncharge(2<<20, ForConn)
	if b.used != 0 || b.conns != 0 {
		t.Fatalf("after uncharging: %d bytes, %d conns", b.used, b.conns)
	}
}
