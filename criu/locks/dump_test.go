package locks

import (
	"errors"
	"os"
	"testing"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

func fdinfo(lines ...string) procfs.Fdinfo { return procfs.Fdinfo{LockLines: lines} }

// Add keeps one entry per lock, whichever fd shows it: OFD locks and
// leases by open file description; refuses what cannot come back.
func TestAdd(t *testing.T) {
	var s Set
	ofd := fdinfo("1: OFDLCK ADVISORY  WRITE -1 00:2a:5678 0 9", "2: OFDLCK ADVISORY  READ -1 00:2a:5678 100 EOF")
	lease := fdinfo("3: LEASE  ACTIVE    READ 7 00:2a:5679 0 EOF")
	for _, c := range []struct {
		pid, fd int
		fi      procfs.Fdinfo
		id      uint32
	}{
		{pid: 7, fd: 3, fi: ofd, id: 10},
		{pid: 8, fd: 3, fi: ofd, id: 10}, // the same description in a child
		{pid: 7, fd: 4, fi: lease, id: 11},
		{pid: 8, fd: 4, fi: lease, id: 11},
	} {
		if err := s.Add(c.pid, c.pid, c.fd, c.fi, c.id, images.FdTypes_REG, true); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.entries) != 3 {
		t.Fatalf("%d entries, want 3: %v", len(s.entries), s.entries)
	}
	for i, want := range []struct {
		flag, typ  uint32
		start, len int64
	}{
		{flOFD, fWrlck, 0, 10}, {flOFD, fRdlck, 100, 0}, {flLease, fRdlck, 0, 0},
	} {
		e := s.entries[i]
		if e.GetFlag() != want.flag || e.GetType() != want.typ || e.GetStart() != want.start || e.GetLen() != want.len || e.GetPid() != 7 {
			t.Errorf("entry %d: %v, want %+v of pid 7", i, e, want)
		}
	}
	for _, bad := range []string{
		"1: LEASE  BREAKING  UNLCK 7 00:2a:5679 0 EOF",
		"1: LEASE  BREAKER   READ 7 00:2a:5679 0 EOF",
		"1: POSIX  MANDATORY WRITE 7 00:2a:5679 0 EOF",
		"1: DELEG  ACTIVE    READ 7 00:2a:5679 0 EOF",
	} {
		var s Set
		if err := s.Add(7, 7, 3, fdinfo(bad), 1, images.FdTypes_REG, true); !errors.Is(err, errdefs.ErrUnsupported) {
			t.Errorf("%q: %v, want ErrUnsupported", bad, err)
		}
	}
	var none Set
	if err := none.Add(7, 7, 3, ofd, 1, images.FdTypes_REG, false); !errors.Is(err, errdefs.ErrFileLocks) {
		t.Errorf("without --file-locks: %v", err)
	}
}
