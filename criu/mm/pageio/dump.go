package pageio

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/internal/linux"

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
}

// Times are what a copy spent reading and writing.
type Times struct{ Read, Write time.Duration }

// Dump copies the runs of pid's memory, in order, to w (pages-N.img,
// named name in errors). An image in memory (a tmpfs file:
// image.FileWriter, InMemory) is extended and filled through a mapping,
// by one reader a core (dumpMapped); any other is written from buffers
// (dumpStream). lenient, when not nil, is called when a read failed (a
// pre-dump of a task that runs again), with the ranges and their
// buffer, to fill it as it can (never two calls at once); the copy ends
// on its error. Dump does not change runs.
func Dump(ctx context.Context, pid int, runs []Run, w io.Writer, name string, lenient func([]mem.Range, []byte) error) (Times, error) {
	var total uint64
	for _, r := range runs {
		total += r.Len()
	}
	if fw, ok := w.(image.FileWriter); ok && total >= mappedMin && InMemory(fw.File()) {
		return dumpMapped(ctx, pid, runs, total, fw, name, lenient)
	}
	return dumpStream(pid, runs, total, w, name, lenient)
}

// mappedMin is the least a dump maps its image for: below it, the
// mapping costs more than the copy it saves.
const mappedMin = 4 << 20

// dumpStream reads the runs into buffers and writes them to w. Reads
// and writes overlap: one goroutine fills a buffer while the caller's
// drains the previous one into w.
func dumpStream(pid int, runs []Run, total uint64, w io.Writer, name string, lenient func([]mem.Range, []byte) error) (Times, error) {
	runs = append([]Run(nil), runs...)
	type chunk struct {
		buf []byte
		err error
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
		for i < len(runs) {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			buf = buf[:0]
			var batch []mem.Range
			var size uint64
			for i < len(runs) && !runs[i].Force {
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
				// An unreadable mapping: one run through /proc/PID/mem.
				r := runs[i].Range
				if r.Len() > step {
					r.End = r.Start + step
					runs[i].Start = r.End
				} else {
					i++
				}
				if mf == nil {
					mf, err = mem.OpenFile(pid)
				}
				if err == nil {
					buf = buf[:r.Len()]
					err = mf.ReadAt(buf, r.Start)
					if err != nil && lenient != nil {
						err = lenient([]mem.Range{r}, buf)
					}
				}
			}
			select {
			case full <- chunk{buf, err}:
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
		free <- c.buf
	}
	t.Read = time.Since(t0) - t.Write
	return t, nil
}

// mappedStep is the most one reader of dumpMapped copies at once.
const mappedStep = 8 << 20

// dumpMapped extends w by the runs' bytes and fills them through a
// shared mapping of its file: process_vm_readv copies the task's pages
// straight into the page cache of the image, one copy where writing
// from a buffer makes two, on one reader a core (Parallel). Each reader
// populates its piece of the mapping before it reads into it
// (MADV_POPULATE_WRITE: the image's pages are allocated without a fault
// each; measured here, for 1 GiB, faulting them in from the copies took
// twice as long).
func dumpMapped(ctx context.Context, pid int, runs []Run, total uint64, w image.FileWriter, name string, lenient func([]mem.Range, []byte) error) (Times, error) {
	t0 := time.Now()
	off, err := w.Extend(int64(total))
	if err != nil {
		return Times{}, err
	}
	lead := uint64(off) % mem.PageSize
	m, err := unix.Mmap(int(w.File().Fd()), off-int64(lead), int(total+lead), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return Times{}, fmt.Errorf("write %s: %w", name, os.NewSyscallError("mmap", err))
	}
	defer unix.Munmap(m)
	dst := m[lead:]
	// Pieces of at most mappedStep, each within one run (force or not)
	// or across consecutive runs that are not force.
	type piece struct {
		rs    []mem.Range
		force bool
		at    uint64 // offset in dst
		size  uint64
	}
	var pieces []piece
	at := uint64(0)
	for _, r := range runs {
		for s := r.Start; s < r.End; {
			e := min(r.End, s+mappedStep)
			if n := len(pieces); n > 0 && !r.Force && !pieces[n-1].force && pieces[n-1].size+(e-s) <= mappedStep {
				p := &pieces[n-1]
				p.rs = append(p.rs, mem.Range{Start: s, End: e})
				p.size += e - s
			} else {
				pieces = append(pieces, piece{rs: []mem.Range{{Start: s, End: e}}, force: r.Force, at: at, size: e - s})
			}
			at += e - s
			s = e
		}
	}
	jobs := make(chan piece)
	var lmu sync.Mutex // serializes the calls of lenient
	var mu sync.Mutex  // protects firstErr
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	var wg sync.WaitGroup
	for range Parallel() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mf *mem.File
			defer func() {
				if mf != nil {
					mf.Close()
				}
			}()
			for p := range jobs {
				if failed() {
					continue
				}
				b := dst[p.at : p.at+p.size]
				if err := linux.Madvise(b, unix.MADV_POPULATE_WRITE); err != nil {
					fail(fmt.Errorf("write %s: %w", name, err))
					continue
				}
				var err error
				if p.force {
					if mf == nil {
						mf, err = mem.OpenFile(pid)
					}
					if err == nil {
						err = mf.ReadAt(b, p.rs[0].Start)
					}
				} else {
					err = mem.ReadRemote(pid, p.rs, b)
				}
				if err != nil && lenient != nil {
					lmu.Lock() // lenient is called by one reader at a time
					err = lenient(p.rs, b)
					lmu.Unlock()
				}
				if err != nil {
					fail(err)
				}
			}
		}()
	}
	for _, p := range pieces {
		if ctx.Err() != nil {
			fail(fmt.Errorf("write %s: %w", name, context.Cause(ctx)))
			break
		}
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return Times{}, firstErr
	}
	return Times{Read: time.Since(t0)}, nil
}
