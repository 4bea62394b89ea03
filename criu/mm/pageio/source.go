package pageio

import (
	"io"
	"math"
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
)

// Source is a task's committed pages image, to be read where another
// task's pages are that task's own: a child's pages still shared
// copy-on-write with its parent (the same physical page at the same
// address, both frozen) hold the same bytes as the parent's image does
// at the page's offset. Those pages may not be pinned (process_vm_readv
// would unshare them), and /proc/PID/mem copies one page a call, which
// was as much of the dump of forked workers as writing the images; a
// read of the image is a copy from the page cache.
type Source struct {
	f    io.ReaderAt
	m    []byte   // f mapped (FromImage), or nil: read with ReadAt
	runs []Run    // the image's runs, in order (by address)
	offs []uint64 // where each run starts in the image
}

// NewSource is the image f whose pages are runs, in order.
func NewSource(f io.ReaderAt, runs []Run) *Source {
	s := &Source{f: f, runs: runs, offs: make([]uint64, len(runs))}
	var off uint64
	for i, r := range runs {
		s.offs[i] = off
		off += r.Len()
	}
	return s
}

// From returns runs (sorted) with their pages in shared (sorted) that
// s holds read from s instead; the others are left as they were. The
// pages are the same and in the same order: the image written is the
// same.
func (s *Source) From(runs []Run, shared []mem.Range) []Run {
	var out []Run
	for _, r := range runs {
		own := []mem.Range{r.Range}
		var got []Run
		var covered []mem.Range
		for _, p := range mem.Intersect(own, shared) {
			j := sort.Search(len(s.runs), func(j int) bool { return s.runs[j].End > p.Start })
			for ; j < len(s.runs) && s.runs[j].Start < p.End; j++ {
				seg := mem.Range{Start: max(p.Start, s.runs[j].Start), End: min(p.End, s.runs[j].End)}
				got = append(got, Run{Range: seg, src: s, off: s.offs[j] + seg.Start - s.runs[j].Start})
				covered = append(covered, seg)
			}
		}
		for _, rest := range mem.Subtract(own, covered) {
			got = append(got, Run{Range: rest, Force: r.Force})
		}
		sort.Slice(got, func(a, b int) bool { return got[a].Start < got[b].Start })
		out = append(out, got...)
	}
	return out
}

// FromImage is Source.From with the image that open opens, when it is a
// local file (its reader has File, image.FileReader): src are its
// runs. done closes it; runs are returned as they were when it cannot
// be read so.
func FromImage(open func() (io.ReadCloser, error), src, runs []Run, shared []mem.Range) (from []Run, done func()) {
	rd, err := open()
	if err != nil {
		return runs, func() {}
	}
	f, ok := rd.(interface{ File() *os.File })
	if !ok {
		rd.Close()
		return runs, func() {}
	}
	s, n := NewSource(f.File(), src), Size(src)
	if st, err := f.File().Stat(); err != nil || uint64(st.Size()) < n {
		rd.Close()
		return runs, func() {} // not the image its runs say
	}
	// Mapped, its pages are written from the page cache with no read
	// in between (a read was a quarter of the dump of forked workers).
	if n > 0 && n <= math.MaxInt {
		if m, err := unix.Mmap(int(f.File().Fd()), 0, int(n), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE); err == nil {
			s.m = m
		}
	}
	return s.From(runs, shared), func() {
		if s.m != nil {
			unix.Munmap(s.m)
		}
		rd.Close()
	}
}
