package mm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/internal/linux"
)

// A copy-on-write dump (dump --leave-running): the tree is frozen only
// to take its state and to write-protect its private anonymous memory;
// its pages are copied once it runs again, each before the tree's first
// write to it (mem/cow.go). While frozen, DumpPages writes the task's
// pagemap as a normal dump does, reads the pages that cannot be
// protected (file-backed private pages, the vdso, huge pages, droppable
// memory, a VMA that will not register), and registers the others with
// a uffd of the dump's own: injected userfaultfd(2), taken with
// pidfd_getfd and closed in the task, so that only criu holds it (a
// criu that dies lets the tree go: the uffd's release wakes every
// writer and lifts every protection). CopyPages then writes pages-N.img
// in pagemap order while one goroutine a task (serve) answers the write
// faults: a page written first is copied at once and then released.
//
// The stream reads through /proc/PID/mem opened at the freeze: it reads
// the mm of the freeze, and fails once that mm is gone (the task exited
// or exec'd), never reading a new one. After each chunk it asks
// PAGEMAP_SCAN which of its pages lost their protection: a page the
// fault handler saved is taken from its copy; any other was discarded
// or replaced without a write (munmap, a guard region) and fails the
// dump. The uffd's events say the same earlier, by name: munmap (UNMAP)
// or mremap (REMAP) of a page not yet copied fails the dump, as both
// come after the fact (mem/cow.go). MADV_DONTNEED and MADV_FREE
// (REMOVE) wait until their event is read, their pages intact: serve
// sees an event queued (eventQueued) before it reads, and first copies
// every page left (drain), the madvise waiting meanwhile; only a REMOVE
// queued in the microseconds between that look and the read still fails
// the dump. A failed copy leaves the tree running and the images
// unfinished.
//
// Only for a dump with neither parent nor tracking: a VMA has one uffd,
// and a tracker has it (incremental.go); those dumps read while frozen.
// A task that cannot create a uffd able to wait in kernel mode (no
// CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=0) is read while frozen
// too, said in the log, and so is a task with less than cowMin of it.

// ErrSnapshotLost is why a copy-on-write dump failed: the tree dropped
// pages of its memory before they were copied.
var ErrSnapshotLost = errors.New("pages of the copy-on-write snapshot went before they were copied")

// CopyOnWrite makes this dump's private anonymous pages a copy-on-write
// snapshot, for a dump that lets the tree run on. Call before DumpPages.
func (t *Tree) CopyOnWrite() { t.cowOn = true }

// Deferred says whether some task's pages are left to CopyPages.
func (t *Tree) Deferred() bool { return len(t.cows) > 0 }

// cowTask is one task's copy-on-write snapshot.
type cowTask struct {
	d      *TaskDump
	uffd   int               // criu's; the task holds none
	wake   int               // an eventfd that stops serve
	mf     *mem.File         // /proc/PID/mem, opened at the freeze
	pm     *mem.Pagemap      // likewise
	areas  []mem.Range       // the registered VMAs, sorted
	runs   []pageRun         // every run of pages-N.img, in order
	held   map[uint64][]byte // the runs read while frozen, by start
	prot   []mem.Range       // the protected pages to copy, sorted
	hole   uint64            // a page of areas never protected, or 0
	served chan struct{}     // closed when serve returns

	mu     sync.Mutex        // guards what follows
	done   uint64            // every protected page below done is in pages-N.img
	saved  map[uint64][]byte // protected pages at or above done, copied by serve
	err    error             // why the snapshot cannot be exact
	faults int               // write faults answered
	// drained: drain copied every page left; nothing is left since.
	drained bool
}

// cowOK says whether a's pages may be protected: private anonymous
// memory on base pages that the kernel does not drop by itself.
func cowOK(a *area) bool {
	return trackable(a) && a.e.GetFlags()&(unix.MAP_HUGETLB|unix.MAP_DROPPABLE) == 0
}

// cowMin is the least private anonymous memory a task must have for a
// snapshot: a smaller one is read while frozen, which costs less than a
// millisecond or two, and a short-lived task (a shell's subshell) cannot
// fail the dump by exiting before its pages are copied.
const cowMin = 4 << 20

// armCOW is DumpPages for a copy-on-write dump: it writes the pagemap,
// reads what cannot be protected and protects the rest. It returns
// false (and has done nothing) when the task gets no snapshot: its
// pages are then written while frozen.
func (d *TaskDump) armCOW(ctx context.Context, p *Pages, l *Layout) (bool, error) {
	var cand []mem.Range
	for _, a := range l.areas {
		if cowOK(a) {
			cand = append(cand, mem.Range{Start: a.m.Start, End: a.m.End})
		}
	}
	var prot uint64
	for _, r := range p.runs {
		prot += mem.Pages(mem.Intersect([]mem.Range{r.Range}, cand))
	}
	if prot*mem.PageSize < cowMin {
		return false, nil
	}
	c, err := d.newCOW()
	if err != nil {
		d.tree.log.Info().Err(err).Int("pid", d.pid).Msg("no copy-on-write snapshot: the task's pages are read while it is frozen")
		return false, nil
	}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	for _, r := range cand {
		if err := mem.TrackerRegister(c.uffd, r); err != nil {
			d.tree.log.Debug().Err(err).Int("pid", d.pid).Msg("vma read while frozen")
			continue
		}
		c.areas = append(c.areas, r)
	}
	if len(c.areas) == 0 {
		return false, nil
	}
	if err := protectAll(c.uffd, c.areas); err != nil {
		return false, fmt.Errorf("copy-on-write snapshot of %d: %w", d.pid, err)
	}
	c.runs = p.runs
	var frozen []mem.Range
	for _, r := range p.runs {
		if in := mem.Intersect([]mem.Range{r.Range}, c.areas); len(in) == 1 && in[0] == r.Range {
			c.prot = append(c.prot, r.Range)
		} else {
			frozen = append(frozen, r.Range)
		}
	}
	if h := mem.Subtract(c.areas, c.prot); len(h) > 0 {
		c.hole = h[0].Start
	}
	for _, r := range frozen {
		b := make([]byte, r.Len())
		if err := c.mf.ReadAt(b, r.Start); err != nil {
			return false, fmt.Errorf("dump memory of %d: %w", d.pid, err)
		}
		c.held[r.Start] = b
	}
	if err := d.writePagemap(ctx, p.ents, p.runs); err != nil {
		return false, err
	}
	ok = true
	d.tree.cows = append(d.tree.cows, c)
	go c.serve()
	return true, nil
}

// protectPiece is the most of a VMA one UFFDIO_WRITEPROTECT covers when
// the protection is shared out.
const protectPiece = 64 << 20

// protectAll write-protects the present pages of areas. The kernel walks
// every page table entry (most of a big heap's freeze): pieces of the
// big areas go to one goroutine a CPU, which take the mm's lock shared.
func protectAll(uffd int, areas []mem.Range) error {
	var pieces []mem.Range
	for _, r := range areas {
		for s := r.Start; s < r.End; s += protectPiece {
			pieces = append(pieces, mem.Range{Start: s, End: min(s+protectPiece, r.End)})
		}
	}
	workers := min(runtime.NumCPU(), len(pieces))
	if workers <= 1 {
		for _, r := range pieces {
			if err := mem.TrackerProtect(uffd, r); err != nil {
				return err
			}
		}
		return nil
	}
	work := make(chan mem.Range, len(pieces))
	for _, r := range pieces {
		work <- r
	}
	close(work)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				if errs[w] == nil {
					errs[w] = mem.TrackerProtect(uffd, r)
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// newCOW creates the snapshot's uffd in the task and takes it. The
// task must be frozen.
func (d *TaskDump) newCOW() (*cowTask, error) {
	fd, err := d.task.Sys("userfaultfd", unix.SYS_USERFAULTFD, mem.CowUserfaultfdFlags)
	if err != nil {
		return nil, err
	}
	u, err := linux.GetFd(d.pid, int(fd))
	if _, cerr := d.task.Sys("close", unix.SYS_CLOSE, fd); cerr != nil && err == nil {
		unix.Close(u)
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	c := &cowTask{d: d, uffd: u, wake: -1, held: map[uint64][]byte{}, saved: map[uint64][]byte{}, served: make(chan struct{})}
	if err := mem.CowInit(u); err != nil {
		c.close()
		return nil, err
	}
	if c.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		c.close()
		return nil, err
	}
	if c.mf, err = mem.OpenFile(d.pid); err == nil {
		c.pm, err = mem.OpenPagemap(d.pid)
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// stop ends serve (if it runs) and closes the uffd: every protection
// goes and every writer waiting wakes. Safe twice.
func (c *cowTask) stop() {
	if c.wake >= 0 {
		var one [8]byte
		one[0] = 1
		unix.Write(c.wake, one[:])
		select {
		case <-c.served:
		case <-time.After(10 * time.Second):
			// serve is stuck in a copy: closing under it is safe for the
			// tree (its writers wake), not for serve's fd.
		}
	}
	c.close()
}

func (c *cowTask) close() {
	if c.uffd >= 0 {
		unix.Close(c.uffd)
		c.uffd = -1
	}
	if c.wake >= 0 {
		unix.Close(c.wake)
		c.wake = -1
	}
	c.mf.Close()
	c.pm.Close()
}

// protected says whether page addr is one of the snapshot's.
func (c *cowTask) protected(addr uint64) bool {
	i := sort.Search(len(c.prot), func(i int) bool { return c.prot[i].End > addr })
	return i < len(c.prot) && c.prot[i].Start <= addr
}

// fail records why the snapshot cannot be exact (the first reason).
// c.mu held.
func (c *cowTask) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// serve answers the uffd until stop: a write fault on a protected page
// not yet in pages-N.img copies it (saved), then lets the writer go; an
// event that drops such a page fails the snapshot. On a failure it
// returns, and stop lets the whole tree go.
func (c *cowTask) serve() {
	defer close(c.served)
	buf := make([]byte, 64*linux.UffdMsgSize)
	var pending []uint64 // pages whose writers wait
	for {
		timeout := -1
		if len(pending) > 0 {
			timeout = 1 // an event is queued: read it, then retry
		}
		fds := []unix.PollFd{{Fd: int32(c.uffd), Events: unix.POLLIN}, {Fd: int32(c.wake), Events: unix.POLLIN}}
		if _, err := linux.Poll(fds, timeout); err != nil {
			c.abort(err)
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		for {
			if c.eventQueued() {
				// A REMOVE (MADV_DONTNEED, MADV_FREE) waits until it is
				// read, its pages intact: everything not yet copied is
				// copied now, and the tree's madvise waits for it.
				if err := c.drain(); err != nil {
					c.abort(err)
					return
				}
			}
			msgs, err := mem.ReadUffd(c.uffd, buf)
			if err != nil {
				c.abort(err)
				return
			}
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				if err := c.handle(m, &pending); err != nil {
					c.abort(err)
					return
				}
			}
		}
		keep := pending[:0]
		for _, a := range pending {
			r := mem.Range{Start: a, End: a + mem.PageSize}
			err := mem.Unprotect(c.uffd, r)
			switch {
			case err == nil:
			case errors.Is(err, unix.EAGAIN):
				keep = append(keep, a)
			case errors.Is(err, unix.ENOENT):
				// Its VMA went meanwhile: the writer still waits.
				c.wakeRange(r)
			default:
				c.abort(err)
				return
			}
		}
		pending = keep
	}
}

// eventQueued says whether a non-cooperative event (REMOVE, UNMAP,
// REMAP) is queued unread: UFFDIO_WRITEPROTECT answers EAGAIN then,
// before it looks at the range. The probe lifts the protection of a page
// that has none: one of a registered VMA that was not present at the
// freeze (hole), or else one the stream has copied, so that it never
// makes the tree fault. Before there is such a page it answers false.
// Run by serve.
func (c *cowTask) eventQueued() bool {
	a := c.hole
	if a == 0 {
		c.mu.Lock()
		done := c.done
		c.mu.Unlock()
		if done <= c.areas[0].Start {
			return false
		}
		a = done - mem.PageSize
	}
	return errors.Is(mem.Unprotect(c.uffd, mem.Range{Start: a, End: a + mem.PageSize}), unix.EAGAIN)
}

// drain copies every protected page not yet in pages-N.img nor saved,
// into saved, while the tree's writers and the event's sender wait. A
// page that cannot be read any more (an unmap under way) is left: the
// event names it. Run by serve.
func (c *cowTask) drain() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drained {
		return nil // every page is in, or saved, or was unreadable
	}
	c.drained = true
	var rest []mem.Range
	for _, r := range mem.Intersect(c.prot, []mem.Range{{Start: c.done, End: ^uint64(0) &^ (mem.PageSize - 1)}}) {
		for p := r.Start; p < r.End; p += mem.PageSize {
			if c.saved[p] != nil {
				continue
			}
			if k := len(rest); k > 0 && rest[k-1].End == p && rest[k-1].Len() < drainChunk {
				rest[k-1].End += mem.PageSize
			} else {
				rest = append(rest, mem.Range{Start: p, End: p + mem.PageSize})
			}
		}
	}
	t0 := time.Now()
	var n uint64
	for _, r := range rest {
		b := make([]byte, r.Len())
		if err := c.mf.ReadAt(b, r.Start); err != nil {
			for p := r.Start; p < r.End; p += mem.PageSize {
				if c.mf.ReadAt(b[p-r.Start:p-r.Start+mem.PageSize], p) == nil {
					c.saved[p] = b[p-r.Start : p-r.Start+mem.PageSize]
					n++
				}
			}
			continue
		}
		for p := r.Start; p < r.End; p += mem.PageSize {
			c.saved[p] = b[p-r.Start : p-r.Start+mem.PageSize]
		}
		n += r.Len() / mem.PageSize
	}
	c.d.tree.log.Debug().Int("pid", c.d.pid).Uint64("pages", n).Dur("t", time.Since(t0)).
		Msg("copy-on-write: pages copied ahead of a memory event")
	return nil
}

// drainChunk bounds one read of drain.
const drainChunk = 4 << 20

// handle answers one uffd message. Run by serve.
func (c *cowTask) handle(m linux.UffdMsg, pending *[]uint64) error {
	lost := func(r mem.Range, how string) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		left := mem.Intersect(c.prot, []mem.Range{{Start: max(r.Start, c.done), End: max(r.End, c.done)}})
		var n uint64
		for _, x := range left {
			for p := x.Start; p < x.End; p += mem.PageSize {
				if c.saved[p] == nil {
					n++
				}
			}
		}
		if n == 0 {
			return nil
		}
		return fmt.Errorf("%w: task %d %s %d page(s) of %#x-%#x before criu copied them: dump again (CRIU 4.2 keeps the tree frozen for the whole copy)",
			ErrSnapshotLost, c.d.pid, how, n, r.Start, r.End)
	}
	switch m.Event {
	case linux.UFFD_EVENT_PAGEFAULT:
		a := m.Arg[1] &^ (mem.PageSize - 1)
		if err := c.save(a); err != nil {
			return err
		}
		*pending = append(*pending, a)
	case linux.UFFD_EVENT_REMOVE:
		return lost(mem.Range{Start: m.Arg[0], End: m.Arg[1]}, "discarded (madvise MADV_DONTNEED or MADV_FREE)")
	case linux.UFFD_EVENT_UNMAP:
		return lost(mem.Range{Start: m.Arg[0], End: m.Arg[1]}, "unmapped (munmap)")
	case linux.UFFD_EVENT_REMAP:
		return lost(mem.Range{Start: m.Arg[0], End: m.Arg[0] + m.Arg[2]}, fmt.Sprintf("moved to %#x (mremap)", m.Arg[1]))
	}
	return nil
}

// save copies protected page a before its writer goes, unless the
// stream has it.
func (c *cowTask) save(a uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults++
	if a < c.done || !c.protected(a) || c.saved[a] != nil {
		return nil
	}
	b := make([]byte, mem.PageSize)
	if err := c.mf.ReadAt(b, a); err != nil {
		return fmt.Errorf("copy page %#x of %d before its write: %w", a, c.d.pid, err)
	}
	c.saved[a] = b
	return nil
}

// wakeRange wakes the writers waiting in r, whose VMA went.
func (c *cowTask) wakeRange(r mem.Range) {
	if err := mem.Wake(c.uffd, r); err != nil {
		c.d.tree.log.Debug().Err(err).Int("pid", c.d.pid).Msg("userfaultfd wake")
	}
}

// abort records serve's failure; stop then lets the tree go.
func (c *cowTask) abort(err error) {
	c.mu.Lock()
	c.fail(err)
	c.mu.Unlock()
	c.d.tree.log.Debug().Err(err).Int("pid", c.d.pid).Msg("copy-on-write snapshot failed")
	// Let the tree's writers go now; the stream sees c.err.
	for _, r := range c.areas {
		mem.Unregister(c.uffd, r)
	}
}

// settle finishes a chunk the stream read (rs, in buf): the pages that
// lost their protection meanwhile come from serve's copies, or fail the
// snapshot; then the chunk's pages are released.
func (c *cowTask) settle(rs []mem.Range, buf []byte) error {
	span := mem.Range{Start: rs[0].Start, End: rs[len(rs)-1].End}
	var spans []mem.Range
	var written []mem.Range
	for _, a := range mem.Intersect(c.areas, []mem.Range{span}) {
		spans = append(spans, a)
		w, err := c.pm.ScanWritten(a)
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("task %d exited or exec'd while criu copied its memory: %w", c.d.pid, err)
		}
		if err != nil {
			return err
		}
		written = append(written, w...)
	}
	written = mem.Intersect(written, rs)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	for _, w := range written {
		for p := w.Start; p < w.End; p += mem.PageSize {
			if c.saved[p] == nil {
				c.mu.Unlock()
				return fmt.Errorf("%w: page %#x of task %d lost its protection without a write fault (discarded, unmapped or replaced while criu copied it)", ErrSnapshotLost, p, c.d.pid)
			}
		}
	}
	off := uint64(0)
	for _, r := range rs {
		for p := r.Start; p < r.End; p += mem.PageSize {
			if s := c.saved[p]; s != nil {
				copy(buf[off+p-r.Start:], s)
				delete(c.saved, p)
			}
		}
		off += r.Len()
	}
	c.done = span.End
	c.mu.Unlock()
	for _, a := range spans {
		if err := c.unprotect(a); err != nil {
			return err
		}
	}
	return nil
}

// unprotect releases area a of the stream's chunk, retrying while an
// event is queued (serve reads it). A VMA unmapped meanwhile (ENOENT)
// leaves the rest of a to serve, page by page.
func (c *cowTask) unprotect(a mem.Range) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		ferr := c.err
		c.mu.Unlock()
		if ferr != nil {
			return ferr // serve gave up: events go unread
		}
		err := mem.Unprotect(c.uffd, a)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EAGAIN) && time.Now().Before(deadline):
			time.Sleep(100 * time.Microsecond)
		case errors.Is(err, unix.ESRCH):
			return fmt.Errorf("task %d exited or exec'd while criu copied its memory: %w", c.d.pid, err)
		default:
			return err
		}
	}
}

// CopyPages copies the pages that DumpPages protected, once the tree
// runs again, and writes each task's pages-N.img: the snapshot is
// complete when it returns nil. Whatever it returns, every protection
// is lifted and the tree runs as if never dumped.
func (t *Tree) CopyPages(ctx context.Context) (DumpStats, error) {
	var st DumpStats
	t0 := time.Now()
	defer func() {
		for _, c := range t.cows {
			c.stop()
		}
	}()
	faults := 0
	for _, c := range t.cows {
		cerr := c.copy(ctx)
		c.stop()
		c.mu.Lock()
		faults += c.faults
		err := c.err // serve's reason comes first: it names what the task did
		c.mu.Unlock()
		if err == nil {
			err = cerr
		}
		if err != nil {
			return st, err
		}
		st.MemDump += c.d.Stats.MemDump
		st.MemWrite += c.d.Stats.MemWrite
	}
	t.log.Info().Dur("copy", time.Since(t0)).Int("tasks", len(t.cows)).Int("write_faults", faults).
		Msg("copy-on-write snapshot copied while the tree ran")
	return st, nil
}

// copy writes the task's pages-N.img: held runs as read while frozen,
// protected ones read now (settle). Reading the next chunk overlaps
// writing this one.
func (c *cowTask) copy(ctx context.Context) error {
	d := c.d
	name := fmt.Sprintf("pages-%d.img", d.pagesID)
	w, err := d.tree.store.Create(ctx, name)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			w.Abort()
		}
	}()
	type chunk struct {
		buf    []byte
		err    error
		pooled bool // one of bufs, to give back
	}
	total := mem.Pages(c.prot) * mem.PageSize
	step := min(chunkSize, max(minStep, (total/4+mem.PageSize-1)&^(mem.PageSize-1)))
	bufs := [2][]byte{getFillBuf(step), getFillBuf(step)}
	full := make(chan chunk, 1)
	free := make(chan []byte, 2)
	free <- bufs[0][:0]
	free <- bufs[1][:0]
	quit := make(chan struct{})
	readerDone := make(chan struct{})
	defer func() {
		close(quit)
		<-readerDone
		putFillBuf(bufs[0])
		putFillBuf(bufs[1])
	}()
	runs := slices.Clone(c.runs)
	go func() {
		defer close(readerDone)
		defer close(full)
		i := 0
		for i < len(runs) {
			var buf []byte
			var err error
			pooled := false
			if h := c.held[runs[i].Start]; h != nil {
				buf = h
				i++
			} else {
				select {
				case buf = <-free:
				case <-quit:
					return
				}
				pooled = true
				// A chunk of protected runs, read through the freeze's mm.
				var batch []mem.Range
				var size uint64
				for i < len(runs) && c.held[runs[i].Start] == nil {
					r := runs[i].Range
					if size+r.Len() > step {
						if size > 0 {
							break
						}
						r.End = r.Start + step
						runs[i].Start = r.End
					} else {
						i++
					}
					batch = append(batch, r)
					size += r.Len()
				}
				buf = buf[:size]
				off := uint64(0)
				for _, r := range batch {
					if err = c.mf.ReadAt(buf[off:off+r.Len()], r.Start); err != nil {
						err = fmt.Errorf("task %d exited, exec'd or unmapped its memory while criu copied it: %w", d.pid, err)
						break
					}
					off += r.Len()
				}
				if err == nil {
					err = c.settle(batch, buf)
				}
			}
			select {
			case full <- chunk{buf, err, pooled}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	t0 := time.Now()
	var writeTime time.Duration
	for ch := range full {
		if ch.err != nil {
			return ch.err
		}
		t1 := time.Now()
		if _, err := w.Write(ch.buf); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		writeTime += time.Since(t1)
		if ch.pooled {
			free <- ch.buf[:0]
		}
	}
	t1 := time.Now()
	if err := w.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", name, err)
	}
	committed = true
	writeTime += time.Since(t1)
	d.Stats.MemDump = time.Since(t0) - writeTime
	d.Stats.MemWrite = writeTime
	return nil
}
