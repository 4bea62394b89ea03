package aio

import (
	"os"
	"testing"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
)

// NrReq asks io_setup for a ring of the same size, and the ring this
// process gets from it passes the dump's checks.
func TestNrReqSameRing(t *testing.T) {
	for _, n := range []uint32{1, 16, 62, 63, 128, 500} {
		ctx, err := linux.IoSetup(n)
		if err != nil {
			t.Fatal(err)
		}
		b := unsafeRing(t, ctx)
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		ringLen := uint64(len(b))
		if err := h.check(ringLen); err != nil {
			t.Errorf("io_setup(%d): a ring of %d bytes fails the check: %v", n, ringLen, err)
		}
		again, err := linux.IoSetup(NrReq(ringLen))
		if err != nil {
			t.Fatal(err)
		}
		if b2 := unsafeRing(t, again); len(b2) != len(b) {
			t.Errorf("io_setup(%d) made %d bytes; io_setup(NrReq=%d) made %d", n, len(b), NrReq(ringLen), len(b2))
		}
		linux.IoDestroy(again)
		linux.IoDestroy(ctx)
	}
}

// unsafeRing reads this process's ring at ctx, its length from smaps.
func unsafeRing(t *testing.T, ctx uint64) []byte {
	t.Helper()
	maps, err := procfs.ReadSmaps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if m.Start == ctx && IsRing(m.Path) {
			b := make([]byte, m.End-m.Start)
			if err := mem.ReadRemote(os.Getpid(), []mem.Range{{Start: m.Start, End: m.End}}, b); err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no AIO ring at %#x in /proc/self/smaps", ctx)
	return nil
}
