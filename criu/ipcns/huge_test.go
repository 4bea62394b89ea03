package ipcns

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/nsenter/nstest"
	"github.com/criugo/criu/internal/linux"
)

// TestHugeFlag: hugeFlag tells a segment on huge pages by its attach
// (SHM_HUGETLB and the 2 MiB shift, a flag restore accepts), one on
// ordinary pages as 0, and refuses one with bytes past its size in its
// last page; all in an IPC namespace of the test's own.
func TestHugeFlag(t *testing.T) {
	ns := nstest.Start(t, unix.CLONE_NEWIPC)
	in(t, ns, func() error {
		for _, c := range []struct {
			name      string
			size      int
			flags     int
			tail      bool
			want      uint32
			unsupport bool
		}{
			{"ordinary", 3*4096 + 100, 0, false, 0, false},
			{"ordinary, a byte past its size", 3*4096 + 100, 0, true, 0, true},
			{"huge", 2<<20 + 4096, shmHugetlb, false, shmHugetlb | 21<<shmHugeShift, false},
			{"huge, a byte past its size", 4096, shmHugetlb, true, 0, true},
		} {
			id, err := unix.SysvShmGet(unix.IPC_PRIVATE, c.size, unix.IPC_CREAT|0o600|c.flags)
			if errors.Is(err, unix.ENOMEM) && c.flags != 0 {
				t.Skip("no huge pages in the pool (vm.nr_hugepages)")
			}
			if err != nil {
				t.Fatalf("%s: shmget: %v", c.name, err)
			}
			b, err := unix.SysvShmAttach(id, 0, 0)
			if err != nil {
				t.Fatalf("%s: shmat: %v", c.name, err)
			}
			b[0], b[len(b)-1] = 1, 2
			if c.tail { // a byte past its size, in its last page
				if err := pokeSelf(uint64(linux.SliceAddr(b))+uint64(c.size), 7); err != nil {
					t.Fatal(err)
				}
			}
			got, err := hugeFlag(b)
			unix.SysvShmDetach(b)
			unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			switch {
			case c.unsupport && !errors.Is(err, errdefs.ErrUnsupported):
				t.Errorf("%s: got %#x, %v; want a refusal", c.name, got, err)
			case !c.unsupport && (err != nil || got != c.want):
				t.Errorf("%s: got %#x, %v; want %#x", c.name, got, err, c.want)
			case got != 0 && !validHuge(got):
				t.Errorf("%s: restore refuses the flag %#x", c.name, got)
			}
		}
		return nil
	})
}

// pokeSelf writes byte c at addr of the test's own memory.
func pokeSelf(addr uint64, c byte) error {
	f, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt([]byte{c}, int64(addr))
	return err
}
