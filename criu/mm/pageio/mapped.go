package pageio

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
)

// Image is a pages image file of n bytes mapped shared and writable
// into this process, every page of it populated (MapForWrite) before
// the task is frozen, so that a dump then copies the task's pages
// straight into it (DumpInto) on every core: one copy, with neither
// the page allocation nor the zeroing in it.
type Image struct {
	b []byte
}

// MapForWrite sizes f (a file of a local images dir, in memory) to n
// bytes, maps it and populates the mapping (MADV_POPULATE_WRITE), on
// Parallel() goroutines at once.
func MapForWrite(f *os.File, n int64) (*Image, error) {
	if err := f.Truncate(n); err != nil {
		return nil, fmt.Errorf("size %s: %w", f.Name(), err)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap "+f.Name(), err)
	}
	m := &Image{b: b}
	parts := split(uint64(n), Parallel())
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := unix.Madvise(b[p.Start:p.End], unix.MADV_POPULATE_WRITE); err != nil {
				errs[i] = os.NewSyscallError("madvise(MADV_POPULATE_WRITE) "+f.Name(), err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// Len is the mapped size.
func (m *Image) Len() uint64 { return uint64(len(m.b)) }

// Close unmaps the image. Safe twice.
func (m *Image) Close() error {
	if m == nil || m.b == nil {
		return nil
	}
	err := unix.Munmap(m.b)
	m.b = nil
	return err
}

// split cuts [0, n) into k page-aligned parts (fewer when n is small).
func split(n uint64, k int) []mem.Range {
	step := (n/uint64(k) + mem.PageSize - 1) &^ (mem.PageSize - 1)
	step = max(step, mem.PageSize)
	var out []mem.Range
	for s := uint64(0); s < n; s += step {
		out = append(out, mem.Range{Start: s, End: min(n, s+step)})
	}
	return out
}

// DumpInto copies the runs of pid's memory, in order, into the first
// bytes of m (which must hold them all), Parallel() goroutines at once,
// each a part of the bytes: process_vm_readv for a plain run, reads of
// /proc/PID/mem for a Force one.
func (m *Image) DumpInto(pid int, runs []Run) error {
	total := Size(runs)
	if total > m.Len() {
		return fmt.Errorf("%d bytes of pages for an image of %d", total, m.Len())
	}
	// Each goroutine takes whole runs (split at ChunkSize) until its
	// share of the bytes is reached.
	var pieces []piece
	off := uint64(0)
	for _, r := range runs {
		for s := r.Start; s < r.End; {
			e := min(r.End, s+ChunkSize)
			pieces = append(pieces, piece{Run{Range: mem.Range{Start: s, End: e}, Force: r.Force}, off})
			off += e - s
			s = e
		}
	}
	par := Parallel()
	share := (total + uint64(par) - 1) / uint64(par)
	var groups [][]piece
	var cur []piece
	var size uint64
	for _, p := range pieces {
		cur = append(cur, p)
		size += p.Len()
		if size >= share {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.copyIn(pid, g)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// piece is a run to copy and its offset in the image.
type piece struct {
	Run
	off uint64
}

// copyIn copies pieces (contiguous in m, in order) of pid's memory into
// m: consecutive plain ones in one process_vm_readv, a Force one with
// a read of /proc/PID/mem.
func (m *Image) copyIn(pid int, pieces []piece) error {
	var mf *mem.File
	defer func() {
		if mf != nil {
			mf.Close()
		}
	}()
	for i := 0; i < len(pieces); {
		p := pieces[i]
		if p.Force {
			if mf == nil {
				var err error
				if mf, err = mem.OpenFile(pid); err != nil {
					return err
				}
			}
			if err := mf.ReadAt(m.b[p.off:p.off+p.Len()], p.Start); err != nil {
				return err
			}
			i++
			continue
		}
		j, size := i, uint64(0)
		var batch []mem.Range
		for j < len(pieces) && !pieces[j].Force && size+pieces[j].Len() <= ChunkSize {
			batch = append(batch, pieces[j].Range)
			size += pieces[j].Len()
			j++
		}
		if err := mem.ReadRemote(pid, batch, m.b[p.off:p.off+size]); err != nil {
			return err
		}
		i = j
	}
	return nil
}
