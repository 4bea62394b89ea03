package netlock

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/proto/images"
)

// imageWords are a's bytes as CRIU's images hold them.
func imageWords(a netip.Addr) []uint32 {
	b := a.AsSlice()
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

func TestConnsOf(t *testing.T) {
	isk := func(family, state uint32, src, dst string) *images.InetSkEntry {
		s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
		return &images.InetSkEntry{
			Family: proto.Uint32(family), Proto: proto.Uint32(6), State: proto.Uint32(state),
			SrcAddr: imageWords(s.Addr()), SrcPort: proto.Uint32(uint32(s.Port())),
			DstAddr: imageWords(d.Addr()), DstPort: proto.Uint32(uint32(d.Port())),
		}
	}
	udp := isk(2, 1, "198.18.0.1:53", "198.18.0.2:53")
	udp.Proto = proto.Uint32(17)
	rawTCP := isk(2, 1, "198.18.0.1:6", "198.18.0.2:0") // a raw socket of protocol 6, connected
	rawTCP.Type = proto.Uint32(3)
	got := ConnsOf([]*images.InetSkEntry{
		isk(2, 1, "198.18.0.1:4000", "198.18.0.2:80"),                    // established
		isk(10, 8, "[fd18::1]:4001", "[fd18::2]:80"),                     // CLOSE_WAIT
		isk(10, 1, "[::ffff:198.18.0.1]:4002", "[::ffff:198.18.0.2]:80"), // mapped: IPv4 on the wire
		isk(2, 10, "198.18.0.1:80", "0.0.0.0:0"),                         // listening
		isk(2, 7, "198.18.0.1:4003", "0.0.0.0:0"),                        // closed, never connected
		isk(2, 7, "198.18.0.1:4004", "198.18.0.2:80"),                    // closed after a connection
		udp,
		rawTCP,
	})
	want := []Conn{
		{netip.MustParseAddrPort("198.18.0.1:4000"), netip.MustParseAddrPort("198.18.0.2:80")},
		{netip.MustParseAddrPort("[fd18::1]:4001"), netip.MustParseAddrPort("[fd18::2]:80")},
		{netip.MustParseAddrPort("198.18.0.1:4002"), netip.MustParseAddrPort("198.18.0.2:80")},
		{netip.MustParseAddrPort("198.18.0.1:4004"), netip.MustParseAddrPort("198.18.0.2:80")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("conn %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// A restore locks its connections when the dump's lock is not in its
// namespace, and not when it is; Unlock lifts its lock.
func TestLockRestore(t *testing.T) {
	for _, m := range methods {
		t.Run(string(m), func(t *testing.T) {
			requireTool(t, m)
			p := newPair(t)
			ctx := context.Background()
			c := p.connect(t, "198.18.0.2:7")
			conns := []Conn{connOf(c)}
			id := "test-restore-" + string(m)
			var l *Lock
			lockIn := func() {
				t.Helper()
				if err := nsenter.Do(p.client, nsenter.Net, func() (err error) {
					l, err = LockRestore(ctx, m, id, conns, testLog(t))
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			// The dump's lock is here, kept for the restore: nothing more.
			dumped := record{ID: id, Method: m, State: stateDumped}
			if err := nsenter.Do(p.client, nsenter.Net, func() error { dumped.Here = ownNetns(); return dumped.write() }); err != nil {
				t.Fatal(err)
			}
			if lockIn(); l != nil {
				t.Fatalf("locked again under the dump's lock: %s", l.ID())
			}
			// The dump ran in another namespace (this one's): lock.
			dumped.Here = ownNetns()
			if err := dumped.write(); err != nil {
				t.Fatal(err)
			}
			if lockIn(); l == nil {
				t.Fatal("no lock for a dump of another namespace")
			}
			silent(t, c, "198.18.0.2:7")
			if err := nsenter.Do(p.client, nsenter.Net, func() error { return l.Unlock(ctx) }); err != nil {
				t.Fatal(err)
			}
			if err := crtest.ReadLine(c, "locked", 10*time.Second); err != nil {
				t.Fatalf("after unlock: %v", err)
			}
			if _, err := os.Stat(l.rec.path()); !os.IsNotExist(err) {
				t.Errorf("record left after Unlock: %v", err)
			}
		})
	}
}
