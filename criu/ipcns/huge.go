package ipcns

import (
	"fmt"
	"math/bits"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
)

// A segment on huge pages: made with SHM_HUGETLB and the page size's
// log2 in bits 26-31 (SHM_HUGE_SHIFT), which IpcShmEntry.hugetlb_flag
// holds as CRIU 4.2 writes it.
const (
	shmHugetlb   = 0o4000 // SHM_HUGETLB
	shmHugeShift = 26
)

// hugeFlag is the hugetlb_flag of the segment attached at b (its size
// bytes) in criu's own address space: 0 on ordinary pages. SHM_STAT
// does not tell it; the attach's file does (hugetlbfs, its block size
// the page size). It also refuses a segment with bytes past its size in
// its last page, which a task can write and the images do not hold
// (CRIU drops them); reading them faults in no page, the last page
// holds the segment's last byte.
func hugeFlag(b []byte) (uint32, error) {
	start := uint64(linux.SliceAddr(b))
	maps, err := procfs.ReadMaps(os.Getpid())
	if err != nil {
		return 0, err
	}
	for _, m := range maps {
		if m.Start != start {
			continue
		}
		if err := zeroTail(start+uint64(len(b)), m.End); err != nil {
			return 0, err
		}
		var sfs unix.Statfs_t
		link := fmt.Sprintf("/proc/self/map_files/%x-%x", m.Start, m.End)
		if err := unix.Statfs(link, &sfs); err != nil {
			return 0, &os.PathError{Op: "statfs", Path: link, Err: err}
		}
		if sfs.Type != unix.HUGETLBFS_MAGIC {
			return 0, nil
		}
		return shmHugetlb | uint32(bits.TrailingZeros64(uint64(sfs.Bsize)))<<shmHugeShift, nil
	}
	return 0, fmt.Errorf("no mapping of the attach at %#x", start)
}

// zeroTail refuses non-zero bytes in criu's memory [from, to).
func zeroTail(from, to uint64) error {
	if from >= to {
		return nil
	}
	f, err := os.Open("/proc/self/mem")
	if err != nil {
		return err
	}
	defer f.Close()
	tail := make([]byte, to-from)
	if _, err := f.ReadAt(tail, int64(from)); err != nil {
		return fmt.Errorf("read the last page's tail: %w", err)
	}
	for _, c := range tail {
		if c != 0 {
			return fmt.Errorf("%w: bytes written past the segment's size in its last page, which the images do not hold", errdefs.ErrUnsupported)
		}
	}
	return nil
}

// validHuge reports whether f is a hugetlb_flag hugeFlag could give:
// SHM_HUGETLB and a page size of 64 KiB to 16 GiB, nothing else.
func validHuge(f uint32) bool {
	shift := f >> shmHugeShift
	return f&^(0x3f<<shmHugeShift) == shmHugetlb && shift >= 16 && shift <= 34
}
