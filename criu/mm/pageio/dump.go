package pageio

import (
	"fmt"
	"io"
	"time"

	"github.com/criugo/criu/criu/mem"
)

// minStep is the smallest chunk of a task's pages read at once.
const minStep = 256 << 10

// Run is a run of a task's pages to copy, and how to reach it.
type Run struct {
	mem.Range
	// Force: through /proc/PID/mem (FOLL_FORCE), as the mapping may
	// not be read (dump) or written (restore) otherwise.
	Force bool
	// src, when set (Source.From), holds the pages at off (dump).
	src *Source
	off uint64
}

// Size is the bytes of runs.
func Size(runs []Run) uint64 {
	var n uint64
	for _, r := range runs {
		n += r.Len()
	}
	return n
}

// Times are what a copy spent reading and writing.
type Times struct{ Read, Write time.Duration }

// Dump copies the runs of pid's memory, in order, to w (pages-N.img,
// named name in errors). Reads and writes overlap: one goroutine fills
// a buffer while the caller's drains the previous one into w. lenient,
// when not nil, is called when a read failed (a pre-dump of a task that
// runs again), with the ranges and their buffer, to fill it as it can;
// the copy ends on its error. Dump does not change runs.
//
// Writing a tmpfs image through a shared mapping of it instead (one
// copy, process_vm_readv into the page cache, a reader a core) was
// measured here and was no faster: populating the mapping zeroes every
// page, which write(2) of whole pages does not, and maps and unmaps
// each. Populated before the task is frozen, it takes that out of the
// frozen time (Image).
func Dump(pid int, runs []Run, w io.Writer, name string, lenient func([]mem.Range, []byte) error) (Times, error) {
	runs = append([]Run(nil), runs...)
	total := Size(runs)
	type chunk struct {
		buf []byte
		err error
		// mapped: buf is a Source's mapping, not one of the buffers.
		mapped bool
	}
	full := make(chan chunk, 1)
	free := make(chan []byte, 2)
	// Page-aligned, so that the store may write them around the page
	// cache; no bigger than the pages (fresh memory costs, ~64 MiB of it
	// would dominate a small dump). A few chunks even for a small task,
	// so that reading the next one overlaps writing this one.
	step := min(ChunkSize, max(minStep, (total/4+mem.PageSize-1)&^(mem.PageSize-1)))
	bufs := [2][]byte{GetBuf(step), GetBuf(step)}
	free <- bufs[0][:0]
	free <- bufs[1][:0]
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	defer func() {
		close(stop)
		<-readerDone // the buffers are the reader's until it is done
		PutBuf(bufs[0])
		PutBuf(bufs[1])
	}()
	go func() {
		defer close(readerDone)
		defer close(full)
		var mf *mem.File
		defer func() {
			if mf != nil {
				mf.Close()
			}
		}()
		i := 0
		var spare []byte // a free buffer a mapped chunk left unused
		for i < len(runs) {
			buf, mapped := spare, false
			if spare == nil {
				select {
				case buf = <-free:
				case <-stop:
					return
				}
			}
			spare, buf = nil, buf[:0]
			var batch []mem.Range
			var size uint64
			for i < len(runs) && !runs[i].Force && runs[i].src == nil {
				r := runs[i].Range
				if size+r.Len() > step {
					if size > 0 {
						break
					}
					// A run bigger than a chunk: split it.
					r.End = r.Start + step
					runs[i].Start = r.End
				} else {
					i++
				}
				batch = append(batch, r)
				size += r.Len()
			}
			var err error
			if len(batch) > 0 {
				buf = buf[:size]
				err = mem.ReadRemote(pid, batch, buf)
				if err != nil && lenient != nil {
					err = lenient(batch, buf)
				}
			} else {
				// An unreadable mapping (one run through /proc/PID/mem),
				// or a run another image holds (read from there).
				r, src, off := runs[i].Range, runs[i].src, runs[i].off
				if r.Len() > step {
					r.End = r.Start + step
					runs[i].Start, runs[i].off = r.End, off+step
				} else {
					i++
				}
				buf = buf[:r.Len()]
				if src != nil && src.m != nil {
					spare, buf, mapped = buf, src.m[off:off+r.Len()], true
				} else if src != nil {
					if _, err = src.f.ReadAt(buf, int64(off)); err != nil {
						err = fmt.Errorf("read %#x-%#x from the image holding them: %w", r.Start, r.End, err)
					}
				} else {
					if mf == nil {
						mf, err = mem.OpenFile(pid)
					}
					if err == nil {
						err = mf.ReadAt(buf, r.Start)
						if err != nil && lenient != nil {
							err = lenient([]mem.Range{r}, buf)
						}
					}
				}
			}
			select {
			case full <- chunk{buf, err, mapped}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	t0 := time.Now()
	var t Times
	for c := range full {
		if c.err != nil {
			return t, c.err
		}
		t1 := time.Now()
		if _, err := w.Write(c.buf); err != nil {
			return t, fmt.Errorf("write %s: %w", name, err)
		}
		t.Write += time.Since(t1)
		if !c.mapped {
			free <- c.buf
		}
	}
	t.Read = time.Since(t0) - t.Write
	return t, nil
}
