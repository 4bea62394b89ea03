package cow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/internal/linux"
)

// Snapshot is one task's copy-on-write snapshot.
type Snapshot struct {
	pid    int
	log    zerolog.Logger
	uffd   int               // criu's; the task holds none
	wake   int               // an eventfd that stops serve
	mf     *mem.File         // /proc/PID/mem, opened at the freeze
	pm     *mem.Pagemap      // likewise
	areas  []mem.Range       // the registered VMAs, sorted
	runs   []mem.Range       // every run of pages-N.img, in order
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

// Task is the frozen task a snapshot is armed in.
type Task interface {
	// Sys runs system call nr in the task's leader, injected.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
}

// Arm arms a snapshot of task pid, frozen, whose pages-N.img is runs (in
// order): areas (whole private anonymous VMAs) are registered and
// write-protected, the runs outside the registered ones read now. It
// returns nil and no error when the task gets no snapshot (said in the
// log): its pages are then to be read while it is frozen.
func Arm(task Task, pid int, areas, runs []mem.Range, log zerolog.Logger) (*Snapshot, error) {
	c, err := newSnapshot(task, pid, log)
	if err != nil {
		log.Info().Err(err).Int("pid", pid).Msg("no copy-on-write snapshot: the task's pages are read while it is frozen")
		return nil, nil
	}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	for _, r := range areas {
		if err := mem.TrackerRegister(c.uffd, r); err != nil {
			log.Debug().Err(err).Int("pid", pid).Msg("vma read while frozen")
			continue
		}
		c.areas = append(c.areas, r)
	}
	if len(c.areas) == 0 {
		return nil, nil
	}
	if err := protectAll(c.uffd, c.areas); err != nil {
		return nil, fmt.Errorf("copy-on-write snapshot of %d: %w", pid, err)
	}
	c.runs = runs
	var frozen []mem.Range
	for _, r := range runs {
		if in := mem.Intersect([]mem.Range{r}, c.areas); len(in) == 1 && in[0] == r {
			c.prot = append(c.prot, r)
		} else {
			frozen = append(frozen, r)
		}
	}
	if h := mem.Subtract(c.areas, c.prot); len(h) > 0 {
		c.hole = h[0].Start
	}
	for _, r := range frozen {
		b := make([]byte, r.Len())
		if err := c.mf.ReadAt(b, r.Start); err != nil {
			return nil, fmt.Errorf("dump memory of %d: %w", pid, err)
		}
		c.held[r.Start] = b
	}
	ok = true
	go c.serve()
	return c, nil
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

// newSnapshot creates the snapshot's uffd in the task and takes it.
// The task must be frozen.
func newSnapshot(task Task, pid int, log zerolog.Logger) (*Snapshot, error) {
	fd, err := task.Sys("userfaultfd", unix.SYS_USERFAULTFD, mem.CowUserfaultfdFlags)
	if err != nil {
		return nil, err
	}
	u, err := linux.CopyFd(pid, int(fd))
	if _, cerr := task.Sys("close", unix.SYS_CLOSE, fd); cerr != nil && err == nil {
		unix.Close(u)
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	c := &Snapshot{pid: pid, log: log, uffd: u, wake: -1, held: map[uint64][]byte{}, saved: map[uint64][]byte{}, served: make(chan struct{})}
	if err := mem.CowInit(u); err != nil {
		c.close()
		return nil, err
	}
	if c.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		c.close()
		return nil, err
	}
	if c.mf, err = mem.OpenFile(pid); err == nil {
		c.pm, err = mem.OpenPagemap(pid)
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// Stop ends the snapshot: serve stops, the uffd is closed, every
// protection goes and every writer waiting wakes. Safe twice.
func (c *Snapshot) Stop() {
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

func (c *Snapshot) close() {
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
func (c *Snapshot) protected(addr uint64) bool {
	i := sort.Search(len(c.prot), func(i int) bool { return c.prot[i].End > addr })
	return i < len(c.prot) && c.prot[i].Start <= addr
}

// fail records why the snapshot cannot be exact (the first reason).
// c.mu held.
func (c *Snapshot) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// serve answers the uffd until stop: a write fault on a protected page
// not yet in pages-N.img copies it (saved), then lets the writer go; an
// event that drops such a page fails the snapshot. On a failure it
// returns, and stop lets the whole tree go.
func (c *Snapshot) serve() {
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
func (c *Snapshot) eventQueued() bool {
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
func (c *Snapshot) drain() error {
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
	c.log.Debug().Int("pid", c.pid).Uint64("pages", n).Dur("t", time.Since(t0)).
		Msg("copy-on-write: pages copied ahead of a memory event")
	return nil
}

// drainChunk bounds one read of drain.
const drainChunk = 4 << 20

// handle answers one uffd message. Run by serve.
func (c *Snapshot) handle(m linux.UffdMsg, pending *[]uint64) error {
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
			ErrSnapshotLost, c.pid, how, n, r.Start, r.End)
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
func (c *Snapshot) save(a uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults++
	if a < c.done || !c.protected(a) || c.saved[a] != nil {
		return nil
	}
	b := make([]byte, mem.PageSize)
	if err := c.read(b, a); err != nil {
		return fmt.Errorf("copy page %#x of %d before its write: %w", a, c.pid, err)
	}
	c.saved[a] = b
	return nil
}

// read reads the task's memory at addr into b through the freeze's mm,
// for the stream and for a page saved before its write alike; it fails
// once that mm is gone.
func (c *Snapshot) read(b []byte, addr uint64) error {
	if err := c.mf.ReadAt(b, addr); err != nil {
		return fmt.Errorf("task %d exited, exec'd or unmapped its memory while criu copied it: %w", c.pid, err)
	}
	return nil
}

// wakeRange wakes the writers waiting in r, whose VMA went.
func (c *Snapshot) wakeRange(r mem.Range) {
	if err := mem.Wake(c.uffd, r); err != nil {
		c.log.Debug().Err(err).Int("pid", c.pid).Msg("userfaultfd wake")
	}
}

// abort records serve's failure; stop then lets the tree go.
func (c *Snapshot) abort(err error) {
	c.mu.Lock()
	c.fail(err)
	c.mu.Unlock()
	c.log.Debug().Err(err).Int("pid", c.pid).Msg("copy-on-write snapshot failed")
	// Let the tree's writers go now; the stream sees c.err.
	for _, r := range c.areas {
		mem.Unregister(c.uffd, r)
	}
}

// settle finishes a chunk the stream read (rs, in buf): the pages that
// lost their protection meanwhile come from serve's copies, or fail the
// snapshot; then the chunk's pages are released.
func (c *Snapshot) settle(rs []mem.Range, buf []byte) error {
	span := mem.Range{Start: rs[0].Start, End: rs[len(rs)-1].End}
	var spans []mem.Range
	var written []mem.Range
	for _, a := range mem.Intersect(c.areas, []mem.Range{span}) {
		spans = append(spans, a)
		w, err := c.pm.ScanWritten(a)
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("task %d exited or exec'd while criu copied its memory: %w", c.pid, err)
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
				return fmt.Errorf("%w: page %#x of task %d lost its protection without a write fault (discarded, unmapped or replaced while criu copied it)", ErrSnapshotLost, p, c.pid)
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
func (c *Snapshot) unprotect(a mem.Range) error {
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
			return fmt.Errorf("task %d exited or exec'd while criu copied its memory: %w", c.pid, err)
		default:
			return err
		}
	}
}

// Copy writes the task's pages-N.img to w, the runs in order: the held
// ones as read while frozen, the protected ones read now (settle), while
// serve answers the tree's writes. Reading the next chunk overlaps
// writing this one. It returns the time spent reading and writing; the
// snapshot is exact when it and Err return nil.
func (c *Snapshot) Copy(ctx context.Context, w io.Writer) (read, written time.Duration, err error) {
	type chunk struct {
		buf    []byte
		err    error
		pooled bool // one of bufs, to give back
	}
	total := mem.Pages(c.prot) * mem.PageSize
	step := min(chunkSize, max(minStep, (total/4+mem.PageSize-1)&^(mem.PageSize-1)))
	bufs := [2][]byte{make([]byte, step), make([]byte, step)}
	full := make(chan chunk, 1)
	free := make(chan []byte, 2)
	free <- bufs[0][:0]
	free <- bufs[1][:0]
	quit := make(chan struct{})
	readerDone := make(chan struct{})
	defer func() {
		close(quit)
		<-readerDone
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
					r := runs[i]
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
					if err = c.read(buf[off:off+r.Len()], r.Start); err != nil {
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
	for ch := range full {
		if ch.err != nil {
			return 0, 0, ch.err
		}
		if err := ctx.Err(); err != nil {
			return 0, 0, context.Cause(ctx)
		}
		t1 := time.Now()
		if _, err := w.Write(ch.buf); err != nil {
			return 0, 0, err
		}
		written += time.Since(t1)
		if ch.pooled {
			free <- ch.buf[:0]
		}
	}
	return time.Since(t0) - written, written, nil
}

// Err is why the snapshot is not exact (what the tree did), or nil.
func (c *Snapshot) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Faults is the number of write faults answered.
func (c *Snapshot) Faults() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults
}

// chunkSize bounds one read of Copy; minStep is the least of it.
const (
	chunkSize = 32 << 20
	minStep   = 256 << 10
)

// Set is the snapshots of one dump, each to be written to its image.
type Set struct {
	list []member
}

type member struct {
	name string // pages-N.img
	s    *Snapshot
}

// Add adds s, whose pages go to image name.
func (t *Set) Add(name string, s *Snapshot) { t.list = append(t.list, member{name, s}) }

// Len is the number of snapshots.
func (t *Set) Len() int { return len(t.list) }

// Write copies every snapshot into its image in st, once the tree runs,
// and returns the time spent reading and writing the pages: the
// snapshots are complete when it returns nil. Whatever it returns, every
// snapshot is stopped and the tree runs unprotected.
func (t *Set) Write(ctx context.Context, st image.Store, log zerolog.Logger) (read, written time.Duration, err error) {
	t0 := time.Now()
	defer t.Stop()
	faults := 0
	for _, m := range t.list {
		w, err := st.Create(ctx, m.name)
		if err != nil {
			return read, written, err
		}
		rd, wr, cerr := m.s.Copy(ctx, w)
		m.s.Stop()
		faults += m.s.Faults()
		if err := m.s.Err(); err != nil {
			cerr = err // it names what the task did
		}
		if cerr != nil {
			w.Abort()
			return read, written, cerr
		}
		t1 := time.Now()
		if err := w.Close(); err != nil {
			return read, written, fmt.Errorf("commit %s: %w", m.name, err)
		}
		read, written = read+rd, written+wr+time.Since(t1)
	}
	log.Info().Dur("copy", time.Since(t0)).Int("tasks", len(t.list)).Int("write_faults", faults).
		Msg("copy-on-write snapshot copied while the tree ran")
	return read, written, nil
}

// Stop stops every snapshot. Safe twice.
func (t *Set) Stop() {
	for _, m := range t.list {
		m.s.Stop()
	}
}
