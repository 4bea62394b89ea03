package mm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Incremental dumps (criu pre-dump, then dump --prev-images-dir P
// --track-mem) leave the pages that did not change since the parent
// images in the parent: the pagemap names them with PE_PARENT and
// pages-N.img does not hold them. Restore follows the parent symlink.
//
// Finding what changed, without soft-dirty bits (CONFIG_MEM_SOFT_DIRTY
// is off on the kernels we target): a userfaultfd in asynchronous
// write-protect mode (mem/track.go; `criu check` probes it as
// "mem-track"). The first --track-mem pre-dump injects userfaultfd(2)
// into each task, takes the new fd with pidfd_getfd, and registers and
// write-protects every private anonymous VMA, all while the tree is
// frozen. The uffd stays open in the task (a registration lives as long
// as its file) until the final dump closes it; it is never dumped. Each
// later (pre-)dump asks PAGEMAP_SCAN which pages were written since, and
// (pre-dump) protects them again. CRIU itself has no such path: it
// needs soft-dirty bits.
//
// A page goes to the parent only when all of these hold: its VMA is the
// same range that the parent's tracker registered (TrackImage), it is
// still registered (VmFlags "uw": a VMA unmapped and mapped again is
// not), the page was not written (a page faulted in after the
// protection, or zapped and faulted again, counts as written), and the
// parent's pagemap holds it. Everything else is dumped.
//
// Limits: a task that uses userfaultfd write-protect itself on a VMA is
// not tracked there (registration fails with EBUSY), and while tracked,
// its own registration of a tracked VMA fails; file-backed mappings are
// always dumped whole, and shared memory objects whole by the final
// dump only (package shmem; a pre-dump leaves them out); a VMA moved by
// mremap onto exactly the range of a tracked VMA that was unmapped would
// be trusted wrongly.
// Remote images chain too (remote.Store implements image.Chained:
// the parent is a snapshot in the image cache), as every store criu
// opens does; a dump with a parent into a store that cannot chain
// writes every page.

// TrackImage is criugo's own sidecar image in a (pre-)dump directory,
// not a CRIU image: JSON, one trackFile. It tells the next dump which fd
// of each task is the tracking uffd and which VMAs it watches.
const TrackImage = "criugo-memtrack.json"

// trackFile is the content of TrackImage.
type trackFile struct {
	Version int           `json:"version"` // 1
	Tasks   []trackRecord `json:"tasks"`
}

// trackRecord is one task's tracker.
type trackRecord struct {
	Pid  int         `json:"pid"`
	Fd   int         `json:"fd"`   // the uffd's number in the task
	Ino  uint64      `json:"ino"`  // its inode (anon_inode:[userfaultfd])
	Vmas [][2]uint64 `json:"vmas"` // registered VMAs, [start, end)
	// Stale are pages this pre-dump could not read (the task changed
	// the mapping under the reader) and wrote as zeros: the next dump
	// takes them again, written or not.
	Stale [][2]uint64 `json:"stale,omitempty"`
}

// incremental is the state of a dump with a parent or with tracking.
// It is built and used while the tree is frozen, by one goroutine.
type incremental struct {
	parent  image.Store // nil: no parent images to refer to
	protect bool        // track on after this dump: write-protect again
	prev    map[int]*trackRecord
	prevIno map[uint64]bool
	tasks   map[int]*taskTrack
}

// taskTrack is one task's part of an incremental dump.
type taskTrack struct {
	prev        *trackRecord // the parent's tracker, still valid; or nil
	cur         *trackRecord // the tracker after this dump (protect)
	uffd        int          // our copy of the task's uffd; -1
	skip        map[int]bool // tracking uffds among the task's fds
	abandoned   []int        // our trackers of a chain no longer followed: closed
	drop        func()       // closes the tracker this dump created in the task
	parentPages []mem.Range  // pages the parent chain holds
	stale       []mem.Range  // the parent's Stale, sorted
}

const uffdLink = "anon_inode:[userfaultfd]"

// StartIncremental prepares a dump with parent images prev (relative to
// the images, --prev-images-dir) or with trackMem (--track-mem), once
// the tree is frozen and its tasks added. protect says the tracking goes
// on after this dump (pre-dump; dump --leave-running --track-mem).
// Without either, it looks for trackers an abandoned chain left.
func (t *Tree) StartIncremental(ctx context.Context, prev string, trackMem, protect bool) error {
	if prev == "" && !trackMem {
		return t.findAbandoned()
	}
	log := t.log
	inc := &incremental{protect: protect && trackMem, prev: map[int]*trackRecord{}, prevIno: map[uint64]bool{}, tasks: map[int]*taskTrack{}}
	t.inc = inc
	if prev != "" {
		if c, ok := t.store.(image.Chained); !ok {
			log.Warn().Str("prev", prev).Msg("--prev-images-dir: these images cannot name a parent (remote); dumping every page")
		} else {
			if err := c.SetParent(ctx, prev); err != nil {
				return err
			}
			p, err := c.Parent(ctx)
			if err != nil {
				return err
			}
			inc.parent = p
			if err := inc.readTrack(ctx); err != nil {
				return err
			}
		}
	}
	for _, d := range t.tasks {
		tt := &taskTrack{uffd: -1, skip: map[int]bool{}}
		inc.tasks[d.pid] = tt
		if inc.parent != nil {
			var err error
			if tt.parentPages, err = parentPages(ctx, inc.parent, d.vpid); err != nil {
				return err
			}
		}
		if err := inc.findTracker(d.pid, tt); err != nil {
			return err
		}
	}
	return nil
}

// findAbandoned looks, in a dump that neither follows nor starts a
// chain, for tracking uffds that an earlier (pre-)dump left in the tasks
// (its chain was abandoned: its parent lost, or it failed after the
// tasks ran again): they are not dumped but closed (splitIncremental).
func (t *Tree) findAbandoned() error {
	var inc *incremental
	for _, d := range t.tasks {
		tt := &taskTrack{uffd: -1, skip: map[int]bool{}}
		probe := &incremental{prevIno: map[uint64]bool{}}
		if err := probe.findTracker(d.pid, tt); err != nil {
			return err
		}
		if len(tt.abandoned) == 0 {
			continue
		}
		if inc == nil {
			inc = &incremental{prev: map[int]*trackRecord{}, prevIno: map[uint64]bool{}, tasks: map[int]*taskTrack{}}
		}
		inc.tasks[d.pid] = tt
	}
	if inc != nil {
		t.inc = inc
	}
	return nil
}

// readTrack reads the parent's TrackImage, if it has one.
func (inc *incremental) readTrack(ctx context.Context) error {
	r, err := inc.parent.Open(ctx, TrackImage)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer r.Close()
	var tf trackFile
	if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&tf); err != nil {
		return fmt.Errorf("%w: parent %s: %v", errdefs.ErrBadParent, TrackImage, err)
	}
	if tf.Version != 1 {
		return fmt.Errorf("%w: parent %s version %d", errdefs.ErrBadParent, TrackImage, tf.Version)
	}
	for i := range tf.Tasks {
		rec := &tf.Tasks[i]
		inc.prev[rec.Pid] = rec
		inc.prevIno[rec.Ino] = true
	}
	return nil
}

// parentPages lists the pages of pid that the parent chain holds:
// entries of the parent's pagemap, present there or further up.
func parentPages(ctx context.Context, p image.Store, pid int) ([]mem.Range, error) {
	name := fmt.Sprintf("pagemap-%d.img", pid)
	_, ents, err := image.ReadPagemap(ctx, p, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // a task the parent did not see
	}
	if err != nil {
		return nil, fmt.Errorf("parent %s: %w", name, err)
	}
	var out []mem.Range
	for _, e := range ents {
		if e.GetFlags()&(image.PePresent|image.PeParent) == 0 && e.Flags != nil {
			continue
		}
		out = append(out, mem.Range{Start: e.GetVaddr(), End: e.GetVaddr() + image.NrPages(e)*mem.PageSize})
	}
	return mem.Merge(out), nil
}

// findTracker finds the task's tracking uffds among its fds: any with the
// inode of a parent tracker (a child forked after a pre-dump inherits its
// parent's) is not dumped, and the one the parent recorded for this task
// is taken to read the written pages.
func (inc *incremental) findTracker(pid int, tt *taskTrack) error {
	fds, err := procfs.Fds(pid)
	if err != nil {
		return fmt.Errorf("list fds of %d: %w", pid, err)
	}
	rec := inc.prev[pid]
	for _, fd := range fds {
		link := procfs.Path(pid, fmt.Sprintf("fd/%d", fd))
		if l, err := os.Readlink(link); err != nil || l != uffdLink {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(link, &st); err != nil {
			continue
		}
		if !inc.prevIno[st.Ino] {
			// Not of the chain this dump follows: one of ours is left
			// from an abandoned chain; the task's own uffds are dumped
			// (and refused) as any other fd.
			if mem.IsTracker(pid, fd) {
				tt.skip[fd] = true
				tt.abandoned = append(tt.abandoned, fd)
			}
			continue
		}
		tt.skip[fd] = true
		if rec != nil && rec.Fd == fd && rec.Ino == st.Ino {
			tt.prev = rec
			for _, s := range rec.Stale {
				tt.stale = append(tt.stale, mem.Range{Start: s[0], End: s[1]})
			}
			sort.Slice(tt.stale, func(i, j int) bool { return tt.stale[i].Start < tt.stale[j].Start })
		}
	}
	if tt.prev == nil {
		return nil
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("track memory of %d: %w", pid, os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(pidfd)
	if tt.uffd, err = unix.PidfdGetfd(pidfd, tt.prev.Fd, 0); err != nil {
		return fmt.Errorf("track memory of %d: %w", pid, os.NewSyscallError("pidfd_getfd", err))
	}
	return nil
}

// markStale records pages of pid that a pre-dump wrote as zeros.
func (inc *incremental) markStale(pid int, r mem.Range) {
	if inc == nil || inc.tasks[pid] == nil || inc.tasks[pid].cur == nil {
		return
	}
	cur := inc.tasks[pid].cur
	cur.Stale = append(cur.Stale, [2]uint64{r.Start, r.End})
}

// SkipFd says fd of pid is a tracking uffd, which is not dumped. Safe
// on nil.
func (t *Tree) SkipFd(pid, fd int) bool {
	if t == nil {
		return false
	}
	return t.inc.skipFd(pid, fd)
}

func (inc *incremental) skipFd(pid, fd int) bool {
	if inc == nil || inc.tasks[pid] == nil {
		return false
	}
	return inc.tasks[pid].skip[fd]
}

// newTracker creates a tracking uffd in the task (one injected
// userfaultfd) and takes a copy of it. The task must be frozen.
func (d *TaskDump) newTracker(tt *taskTrack) error {
	fd, err := d.task.Sys("userfaultfd", unix.SYS_USERFAULTFD, mem.UserfaultfdFlags)
	if err != nil {
		return err
	}
	rec := &trackRecord{Pid: d.pid, Fd: int(fd)}
	closeRemote := func() { d.task.Sys("close", unix.SYS_CLOSE, fd) }
	pidfd, err := unix.PidfdOpen(d.pid, 0)
	if err != nil {
		closeRemote()
		return os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pidfd)
	u, err := unix.PidfdGetfd(pidfd, int(fd), 0)
	if err != nil {
		closeRemote()
		return os.NewSyscallError("pidfd_getfd", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(u, &st); err != nil {
		unix.Close(u)
		closeRemote()
		return os.NewSyscallError("fstat", err)
	}
	if err := mem.TrackerInit(u); err != nil {
		unix.Close(u)
		closeRemote()
		return err
	}
	rec.Ino = st.Ino
	tt.cur, tt.uffd = rec, u
	tt.drop = closeRemote
	tt.skip[rec.Fd] = true
	return nil
}

// trackable says whether an area's writes can be tracked: private
// anonymous memory only. A write to shared memory through another
// mapping would go unseen; file-backed VMAs get page table markers for
// their empty pages, which pagemap shows as swapped (mem/track.go).
// The vdso, flagged private anonymous as CRIU does, is the kernel's.
func trackable(a *area) bool {
	st := a.e.GetStatus()
	return a.pages != nil && st&image.VmaAnonPrivate != 0 && st&(image.VmaAreaVdso|image.VmaAreaVvar) == 0
}

// vmFlagUffdWP is VM_UFFD_WP in smaps VmFlags: the VMA is registered for
// userfaultfd write-protect.
const vmFlagUffdWP = "uw"

// splitIncremental decides, for the present pages of one frozen task,
// which go to pages-N.img and which stay in the parent, and returns the
// pagemap entries (by address) and the runs to read. Without an
// incremental dump every present page is dumped.
func (d *TaskDump) splitIncremental(ar []areaRuns) ([]*images.PagemapEntry, []pageRun, error) {
	inc := d.tree.inc
	var tt *taskTrack
	if inc != nil {
		tt = inc.tasks[d.pid]
	}
	var pm *mem.Pagemap
	if tt != nil && (tt.prev != nil || inc.protect) {
		var err error
		if pm, err = mem.OpenPagemap(d.pid); err != nil {
			return nil, nil, err
		}
		defer pm.Close()
		if inc.protect {
			if tt.prev != nil {
				tt.cur = &trackRecord{Pid: d.pid, Fd: tt.prev.Fd, Ino: tt.prev.Ino}
			} else if err := d.newTracker(tt); err != nil {
				d.tree.log.Warn().Err(err).Int("pid", d.pid).Msg("cannot track memory writes (userfaultfd WP_ASYNC); the next dump takes every page")
			}
		}
	}
	tracked := map[[2]uint64]bool{}
	if tt != nil && tt.prev != nil {
		for _, v := range tt.prev.Vmas {
			tracked[v] = true
		}
	}
	var ents []*images.PagemapEntry
	var runs []pageRun
	add := func(rs []mem.Range, flags uint32) {
		for _, r := range rs {
			n := r.Len() / mem.PageSize
			ents = append(ents, &images.PagemapEntry{
				Vaddr: proto.Uint64(r.Start), CompatNrPages: proto.Uint32(uint32(n)),
				Flags: proto.Uint32(flags), NrPages: proto.Uint64(n),
			})
		}
	}
	t0 := time.Now()
	defer func() { d.tree.log.Debug().Dur("t", time.Since(t0)).Int("pid", d.pid).Msg("incremental split") }()
	for _, x := range ar {
		a := x.a
		key := [2]uint64{a.m.Start, a.m.End}
		r := mem.Range{Start: a.m.Start, End: a.m.End}
		var inParent []mem.Range
		// Tracked since the parent: the same VMA, still registered (a
		// VMA unmapped and mapped again at the same place is not).
		if pm != nil && trackable(a) && tracked[key] && a.m.HasFlag(vmFlagUffdWP) {
			written, err := pm.ScanWritten(r)
			if err != nil {
				return nil, nil, err
			}
			inParent = mem.Subtract(mem.Intersect(x.runs, tt.parentPages), written)
			inParent = mem.Subtract(inParent, tt.stale)
		}
		// Tracking goes on: every private anonymous VMA is registered
		// (again: one registered before keeps its registration) and
		// write-protected.
		if tt != nil && tt.cur != nil && trackable(a) {
			err := mem.TrackerRegister(tt.uffd, r)
			if err == nil {
				err = mem.TrackerProtect(tt.uffd, r)
			}
			if err != nil {
				d.tree.log.Debug().Err(err).Int("pid", d.pid).Msg("vma not tracked")
			} else {
				tt.cur.Vmas = append(tt.cur.Vmas, key)
			}
		}
		dumped := mem.Subtract(x.runs, inParent)
		d.Stats.PagesSkippedParent += mem.Pages(inParent)
		add(mem.Subtract(inParent, x.cow), image.PeParent)
		add(mem.Intersect(inParent, x.cow), image.PeParent|image.PeCow)
		add(mem.Subtract(dumped, x.cow), image.PePresent)
		add(mem.Intersect(dumped, x.cow), image.PePresent|image.PeCow)
		unreadable := a.m.Prot&procfs.ProtRead == 0
		for _, r := range mem.Subtract(dumped, d.noPin) {
			runs = append(runs, pageRun{Range: r, Force: unreadable})
		}
		// Pages shared copy-on-write with another task of the tree:
		// a process_vm_readv would unshare them (FOLL_PIN).
		for _, r := range mem.Intersect(dumped, d.noPin) {
			runs = append(runs, pageRun{Range: r, Force: true})
		}
	}
	sort.SliceStable(ents, func(i, j int) bool { return ents[i].GetVaddr() < ents[j].GetVaddr() })
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Start < runs[j].Start })
	if tt != nil {
		// Trackers of an abandoned chain go, whatever this dump does.
		for _, fd := range tt.abandoned {
			if _, err := d.task.Sys("close", unix.SYS_CLOSE, uint64(fd)); err != nil {
				return nil, nil, fmt.Errorf("close fd %d of %d (a memory-tracking userfaultfd of an abandoned pre-dump chain): %w", fd, d.pid, err)
			}
			d.tree.log.Info().Int("pid", d.pid).Int("fd", fd).
				Msg("closed a memory-tracking userfaultfd left by an earlier pre-dump whose chain was abandoned")
		}
	}
	if tt != nil && !inc.protect {
		// The tracking ends with this dump: the task's uffds go.
		for fd := range tt.skip {
			if slices.Contains(tt.abandoned, fd) {
				continue
			}
			if _, err := d.task.Sys("close", unix.SYS_CLOSE, uint64(fd)); err != nil {
				d.tree.log.Debug().Err(err).Int("pid", d.pid).Int("fd", fd).Msg("close tracking uffd")
			}
		}
	}
	return ents, runs, nil
}

// Finish writes TrackImage, when the tracking goes on, into the dump's
// images, before they are finished. Safe on nil.
func (t *Tree) Finish(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.inc.finish(ctx, t.store)
}

// finish writes TrackImage when the tracking goes on.
func (inc *incremental) finish(ctx context.Context, s image.Store) error {
	if inc == nil {
		return nil
	}
	if inc.protect {
		tf := trackFile{Version: 1}
		for _, tt := range inc.tasks {
			if tt.cur != nil && len(tt.cur.Vmas) > 0 {
				tf.Tasks = append(tf.Tasks, *tt.cur)
			}
		}
		sort.Slice(tf.Tasks, func(i, j int) bool { return tf.Tasks[i].Pid < tf.Tasks[j].Pid })
		b, err := json.MarshalIndent(&tf, "", " ")
		if err != nil {
			return err
		}
		w, err := s.Create(ctx, TrackImage)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			w.Abort()
			return fmt.Errorf("write %s: %w", TrackImage, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("commit %s: %w", TrackImage, err)
		}
	}
	return nil
}

// DropNew closes, in the tasks, the trackers this dump created: the dump
// failed while the tree is still frozen (the caller thaws it next).
// Safe on nil.
func (t *Tree) DropNew() {
	if t != nil {
		t.inc.dropNew()
	}
}

func (inc *incremental) dropNew() {
	if inc == nil {
		return
	}
	for _, tt := range inc.tasks {
		if tt.drop != nil {
			tt.drop()
			tt.drop = nil
		}
	}
}

// Close releases the uffd copies and the parent store, and ends the
// copy-on-write snapshots (cow.go) that CopyPages did not. Safe on nil.
func (t *Tree) Close() {
	if t != nil {
		t.cows.Stop()
		t.inc.close()
		t.preparedImg.Close()
		if t.prepared != nil {
			t.prepared.Abort()
			t.prepared = nil
		}
	}
}

func (inc *incremental) close() {
	if inc == nil {
		return
	}
	for _, tt := range inc.tasks {
		if tt.uffd >= 0 {
			unix.Close(tt.uffd)
			tt.uffd = -1
		}
	}
	if inc.parent != nil {
		inc.parent.Close()
		inc.parent = nil
	}
}
