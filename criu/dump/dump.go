package dump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/cleanup"
	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/freeze"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mm"
	"github.com/criugo/criu/criu/mm/pageio"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/task"
	"github.com/criugo/criu/criu/vdso"
	"github.com/criugo/criu/proto/images"
)

// Object ids of the root task's kernel objects (task_kobj_ids_entry);
// other tasks take theirs from the file id counter.
const (
	vmID      = 1
	filesID   = 2
	fsID      = 3
	sighandID = 4
	firstFile = 5
)

// dumper dumps one task of the tree.
type dumper struct {
	// sockMaps are the packet socket rings the task maps, until
	// resolveSocketMaps.
	sockMaps []sockMap
	opts     Options
	t        *tree
	pid      int
	store    image.Store
	tr       *ptrace.Tracer
	sysIP    uint64
	scr      scratch
	stat     procfs.Stat
	files    *fileSet

	ppid    int // 0 for the root
	zombie  bool
	threads []*thread
	ids     *images.TaskKobjIdsEntry
	pagesID uint32
	// vpid, vpgid, vsid: the task's ids as seen inside the tree's pid
	// namespace (ns.go), which the images hold; pid and ppid are the
	// host's, for everything done from outside.
	vpid, vpgid, vsid int
	// ownFds is false when the fd table is shared with a task dumped
	// before (CLONE_FILES): its fdinfo image is written once.
	ownFds bool
	// ownFs likewise for fs (CLONE_FS).
	ownFs bool
	// mm dumps the task's memory (package mm); nil for a zombie.
	mm *mm.TaskDump
	// inFlight: this is criu itself, recording the files passed in
	// socket queues (dumpInFlight).
	inFlight bool
}

// Dump checkpoints the process tree rooted at opts.Pid into s. On success
// the images are complete (s.Finish returned nil) and the tasks have been
// killed, or let go with LeaveRunning. On failure the tasks run on as
// before.
func Dump(ctx context.Context, s image.Store, opts Options) (*Stats, error) {
	log := opts.Log
	if err := opts.notify(ctx, "pre-dump"); err != nil {
		return nil, err
	}
	cg, err := newCgroups(opts)
	if err != nil {
		return nil, err
	}
	t, err := freezeTree(ctx, s, opts, freezeSpec{
		verb:     "dump",
		shellJob: true,              // its fds are dumped: the shell-job rules apply
		protect:  opts.LeaveRunning, // tracking goes on only if the tree does
	})
	if err != nil {
		return nil, err
	}
	defer t.release()
	t.cgNew = cg
	// A failed dump removes the links --link-remap made.
	done := false
	defer func() {
		if !done {
			if err := t.files.regs.RemoveLinks(); err != nil {
				log.Warn().Err(err).Msg("remove --link-remap links")
			}
		}
	}()
	// A failed dump: the TCP connections leave repair mode before the
	// tree is let go (a no-op after the Release below), and the network
	// is unlocked after that (release).
	defer t.sockets.Release(true)
	if err := t.lockNetwork(ctx); err != nil {
		return nil, err
	}
	if err := opts.notify(ctx, "query-ext-files"); err != nil {
		return nil, err
	}
	if opts.LeaveRunning {
		t.mm.CopyOnWrite() // pages copied once the tree runs (package mm)
	}
	// A task's pages and images are written on the other cores while
	// the tracer dumps the next task; joined before the figures are
	// used or the tree is let go (and by release).
	t.mm.Copies = pageio.NewCopies(pageio.Parallel())
	// Its ids images name the tasks' namespaces (ns.go).
	for _, d := range t.tasks {
		if d.ids != nil {
			t.ns.SetIDs(d.ids, false)
		}
	}
	for _, d := range t.tasks {
		if d.zombie {
			continue
		}
		if err := interrupted(ctx); err != nil {
			return nil, err
		}
		// On the tracer thread (ptrace.Tracer.Do): the task's requests
		// make no thread hand-offs. Nothing in it waits for a goroutine
		// that uses the tracer.
		if err := t.tr.Do(func() error { return d.dumpTask(ctx) }); err != nil {
			return nil, err
		}
	}
	if err := t.dumpInFlight(); err != nil {
		return nil, err
	}
	log.Debug().Dur("t", time.Since(t.frozenAt)).Msg("tasks")
	if err := interrupted(ctx); err != nil {
		return nil, err
	}
	if err := t.dumpNamespaces(ctx); err != nil {
		return nil, err
	}
	if err := t.writeShared(ctx); err != nil {
		return nil, err
	}
	if err := t.mm.Copies.Wait(); err != nil {
		return nil, err
	}
	for _, d := range t.tasks {
		if !d.zombie {
			t.addStats(d)
		}
	}
	log.Debug().Dur("t", time.Since(t.frozenAt)).Msg("images")
	// A copy-on-write dump lets the tree go before its pages are read:
	// the frozen time ends here, the images once every page is in.
	cow := t.mm.Deferred()
	if cow {
		if err := t.letGo(ctx); err != nil {
			return nil, err
		}
		ms, err := t.mm.CopyPages(ctx)
		if err != nil {
			return nil, fmt.Errorf("dump memory of %d (the tree runs on): %w", opts.Pid, err)
		}
		t.stats.MemDump, t.stats.MemWrite = t.stats.MemDump+ms.MemDump, t.stats.MemWrite+ms.MemWrite
	}
	if err := image.WriteImage(ctx, t.store, "inventory.img", t.inv); err != nil {
		return nil, err // last: it marks the set complete
	}
	// The frozen time runs to the kill or the resume, through the final
	// sync or the cache's acknowledgement. A store that takes images
	// after Finish (a local dir) gets stats-dump once the tree is
	// gone or runs, as CRIU writes it; a remote snapshot is sealed by
	// its confirmation, so there stats-dump goes with the Confirm
	// (image.LateFinisher) and holds the time up to the cache's ok to
	// the Finish: only the Confirm's own round trip and the kill are
	// left out.
	statsLast := opts.StatsAfterFinish
	t.setFrozen()
	lf, statsLate := t.store.(image.LateFinisher)
	if statsLate && !statsLast {
		if err := t.finishImagesLate(ctx, lf); err != nil {
			return nil, err
		}
	} else if err := t.finishImages(ctx, !statsLast); err != nil {
		return nil, err
	}

	log.Debug().Dur("t", time.Since(t.frozenAt)).Msg("finish")
	if err := opts.notify(ctx, "post-dump"); err != nil {
		return nil, err
	}
	if !cow {
		if err := t.letGo(ctx); err != nil {
			return nil, err
		}
	}
	if statsLast {
		// The snapshot is complete and the tree gone or running: a
		// stats image that cannot be written does not undo the dump.
		if err := t.writeStats(ctx); err != nil {
			log.Warn().Err(err).Msg("stats-dump not written")
		} else if err := t.store.Finish(ctx); err != nil {
			log.Warn().Err(err).Msg("stats-dump not synced")
		}
	}
	done = true
	log.Info().Int("pid", opts.Pid).Dur("frozen", t.stats.Frozen).Uint64("pages", t.stats.PagesWritten).Msg("dump done")
	return &t.stats, nil
}

// letGo lets the tree go once its images (but the pages of a
// copy-on-write dump) are safe: resumed with LeaveRunning, else killed.
func (t *frozenTree) letGo(ctx context.Context) error {
	t.keepThawed()
	if err := t.sockets.Release(t.opts.LeaveRunning); err != nil {
		return err
	}
	if t.opts.LeaveRunning {
		if err := t.tr.Do(t.thaw); err != nil {
			return fmt.Errorf("resume %d: %w", t.opts.Pid, err)
		}
	} else if err := t.tr.Do(t.kill); err != nil {
		return err
	}
	t.setFrozen()
	t.resumed = true
	t.finishNetwork() // the tree is gone or runs: not frozen time
	if t.opts.LeaveRunning && t.ns != nil && t.ns.Mask&unix.CLONE_NEWNET != 0 {
		if err := t.opts.notify(ctx, "network-unlock"); err != nil {
			t.opts.Log.Warn().Err(err).Msg("the tree runs on")
		}
	}
	return nil
}

// setFrozen takes the frozen time, until the tree is let go.
func (t *frozenTree) setFrozen() {
	if !t.resumed {
		t.stats.Frozen = time.Since(t.frozenAt)
	}
}

// freezeSpec is what Dump and PreDump do differently while freezing.
type freezeSpec struct {
	verb string // "dump" or "pre-dump", for errors about opts.Pid
	// shellJob applies the shell-job rules (tty.Set.CheckShellJob), which are
	// about the fds that a dump saves.
	shellJob bool
	// protect keeps memory tracking on after this dump (startIncremental).
	protect bool
}

// frozenTree is a tree that freezeTree seized, froze and checked.
type frozenTree struct {
	*tree
	frozenAt time.Time       // when the last thread stopped
	undo     cleanup.Cleanup // lets the tree go as it was
	kept     bool            // keepThawed was called
	resumed  bool            // let go (letGo): the frozen time is taken
	netSent  bool            // "network-lock" was notified
}

// freezeTree checks that opts.Pid is a live process, seizes and freezes
// its tree, checks that it can be dumped, gives the tasks their ids and
// starts incremental tracking (with PrevImages or TrackMem). On failure
// it has let the tree go as it was. On success the caller must call
// release when done, and keepThawed once the tasks may go (it then
// thaws or kills them itself).
func freezeTree(ctx context.Context, s image.Store, opts Options, spec freezeSpec) (*frozenTree, error) {
	if opts.Pid <= 0 {
		return nil, fmt.Errorf("%s: bad pid %d", spec.verb, opts.Pid)
	}
	st, err := procfs.ReadStat(opts.Pid)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s %d: %w", spec.verb, opts.Pid, ErrNoTask)
		}
		return nil, fmt.Errorf("%s %d: %w", spec.verb, opts.Pid, err)
	}
	if st.Pid != opts.Pid {
		return nil, fmt.Errorf("%s %d: %w (it is a thread of %d)", spec.verb, opts.Pid, ErrNoTask, st.Pid)
	}
	if pst, err := procfs.ReadStatus(opts.Pid); err == nil && pst["Tgid"] != fmt.Sprint(opts.Pid) {
		return nil, fmt.Errorf("%s %d: not a process (thread of %s)", spec.verb, opts.Pid, pst["Tgid"])
	}
	if st.State == 'Z' {
		return nil, fmt.Errorf("%s %d: %w (a zombie)", spec.verb, opts.Pid, ErrNoTask)
	}

	t := &frozenTree{tree: newTree(s, opts)}
	ok := false
	defer func() {
		if !ok {
			t.release()
		}
	}()
	log := opts.Log
	warm()
	// criu's own vdso layout, which every task's is checked against.
	if err := vdso.Warm(); err != nil {
		return nil, fmt.Errorf("%s %d: read criu's own maps: %w", spec.verb, opts.Pid, err)
	}
	if spec.verb == "dump" && opts.PrevImages == "" && !opts.LeaveRunning {
		t.mm.Prepare(ctx, opts.Pid) // every page is then written while frozen
	}
	// The threads go to the tracer's CPU while frozen (freeze.Thaw
	// gives them their CPU masks back).
	if err := t.tr.PinCPU(); err != nil {
		log.Debug().Err(err).Msg("tracer not pinned to a CPU")
	}
	// The freezing time (stats-dump freezing_time) is the seizing's
	// alone, as CRIU's.
	t0 := time.Now()
	log.Debug().Int("pid", opts.Pid).Msg("freezing")
	release, err := t.freezeCgroup()
	if err == nil {
		err = t.tr.Do(t.freeze) // every request on the tracer thread
		if rerr := release(); rerr != nil && err == nil {
			err = rerr
		}
	}
	// Whatever was seized gets let go on failure.
	t.undo.Add(func() {
		if err := t.tr.Do(t.thaw); err != nil {
			log.Error().Err(err).Msg("thaw")
		}
	})
	if err != nil {
		return nil, fmt.Errorf("freeze %d: %w", opts.Pid, err)
	}
	if err := interrupted(ctx); err != nil {
		return nil, err
	}
	t.frozenAt = time.Now()
	t.stats.Freezing = t.frozenAt.Sub(t0)
	log.Info().Int("pid", opts.Pid).Int("tasks", len(t.tasks)).Dur("freezing", t.stats.Freezing).Msg("tree frozen")
	if err := t.checkNamespaces(); err != nil {
		return nil, err
	}
	if spec.shellJob {
		if err := t.ttys.CheckShellJob(); err != nil {
			return nil, err
		}
	}
	if err := t.checkShared(); err != nil {
		return nil, err
	}
	// Before anything reads a page, which would end the sharing.
	if err := t.findShared(); err != nil {
		return nil, err
	}
	if err := t.startIncremental(ctx, spec.protect); err != nil {
		return nil, err
	}
	ok = true
	return t, nil
}

// interrupted returns the cause of ctx's end (a signal, for criu), or
// nil while ctx goes on. The dump checks it between its steps; within
// a step, the store's reads and writes fail once ctx has ended.
func interrupted(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}

// keepThawed forgets the thaw on release: the caller lets the tasks go.
func (t *frozenTree) keepThawed() { t.undo.Release(); t.kept = true }

// release drops the tracking copies, lets the tree go as it was unless
// keepThawed was called, and closes the tracer.
func (t *frozenTree) release() {
	t.mm.Copies.Wait() // a failed dump: no copy reads a task that runs again
	if !t.kept {
		t.mm.DropNew() // a failed (pre-)dump leaves no tracker of its own
	}
	t.mm.Close()
	t.undo.Run()
	t.unlockNetwork() // after the thaw
	t.tr.Close()
}

// addStats adds a dumped task's memory figures to the tree's.
func (t *tree) addStats(d *dumper) {
	t.stats.MemDump += d.mm.Stats.MemDump
	t.stats.MemWrite += d.mm.Stats.MemWrite
	t.stats.PagesScanned += d.mm.Stats.PagesScanned
	t.stats.PagesWritten += d.mm.Stats.PagesWritten
	t.stats.PagesSkippedParent += d.mm.Stats.PagesSkippedParent
}

// finishImages writes stats-dump (with stats) and the tracking
// image, then finishes the store: the images are complete once it
// returns nil.
func (t *tree) finishImages(ctx context.Context, stats bool) error {
	if stats {
		if err := t.writeStats(ctx); err != nil {
			return err
		}
	}
	if err := t.mm.Finish(ctx); err != nil {
		return err
	}
	if err := t.store.Finish(ctx); err != nil {
		return fmt.Errorf("finish images: %w", err)
	}
	return nil
}

// finishImagesLate is finishImages for a store that takes
// stats-dump with its confirmation: the frozen time is taken once
// the snapshot is held, right before the Confirm goes.
func (t *frozenTree) finishImagesLate(ctx context.Context, lf image.LateFinisher) error {
	if err := t.mm.Finish(ctx); err != nil {
		return err
	}
	err := lf.FinishWith(ctx, statsImage, func() ([]byte, error) {
		t.setFrozen()
		var b bytes.Buffer
		enc, err := image.NewEncoder(&b, statsImage)
		if err == nil {
			err = enc.Encode(&images.StatsEntry{Dump: t.dumpStats()})
		}
		return b.Bytes(), err
	})
	if err != nil {
		return fmt.Errorf("finish images: %w", err)
	}
	return nil
}

// statsImage is the image of a dump's statistics.
const statsImage = "stats-dump"

// writeStats writes stats-dump.
func (t *tree) writeStats(ctx context.Context) error {
	return image.WriteImage(ctx, t.store, statsImage, &images.StatsEntry{Dump: t.dumpStats()})
}

// dumpTask dumps one frozen, live task: its threads, memory, files and
// fs, writing its own images (core-TID, ids, mm, fs, pagemap, pages,
// fdinfo).
func (d *dumper) dumpTask(ctx context.Context) error {
	log := d.opts.Log
	threads := d.threads
	var err error
	// Re-read stat now that the task cannot change it.
	if d.stat, err = procfs.ReadStat(d.pid); err != nil {
		return err
	}
	// Signals stay as they are: each injected syscall blocks them for its
	// own short window only (ptrace.Injector), so that a dumper killed
	// between injections leaves every thread with its own registers and
	// mask.

	maps, err := procfs.ReadSmaps(d.pid)
	if err != nil {
		return fmt.Errorf("read smaps of %d: %w", d.pid, err)
	}
	if d.sysIP, err = ptrace.FindSyscall(d.pid, maps); err != nil {
		return err
	}
	leader := threads[0]
	in := d.injector(leader)
	// Files and memory layout are read before the scratch page exists.
	areas, err := d.collectVmas(maps)
	if err != nil {
		return fmt.Errorf("dump %d: %w", d.pid, err)
	}
	var fdinfos []*images.FdinfoEntry
	if d.ownFds {
		if fdinfos, err = d.collectFds(); err != nil {
			return fmt.Errorf("dump %d: %w", d.pid, err)
		}
	}
	if err := d.resolveSocketMaps(); err != nil {
		return fmt.Errorf("dump %d: %w", d.pid, err)
	}
	brk, err := in.Syscall("brk", unix.SYS_BRK, 0)
	if err != nil {
		return err
	}
	addr, err := in.Syscall("mmap", unix.SYS_MMAP, 0, scratchSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS, ^uint64(0), 0)
	if err != nil {
		return err
	}
	d.scr = scratch{addr: addr, size: scratchSize}
	var undo cleanup.Cleanup
	defer undo.Run()
	scrUnmapped := false
	unmapScratch := func() error {
		if scrUnmapped {
			return nil
		}
		scrUnmapped = true
		_, err := in.Syscall("munmap", unix.SYS_MUNMAP, d.scr.addr, d.scr.size)
		return err
	}
	undo.Add(func() { unmapScratch() })

	f := d.frozen()
	var cores []*images.CoreEntry
	for _, th := range f.Threads {
		c, err := task.DumpThread(f, th)
		if err != nil {
			return fmt.Errorf("dump thread %d: %w", th.Tid, err)
		}
		cores = append(cores, c)
	}
	if err := d.dumpSeccomp(cores); err != nil {
		return err
	}
	tc, err := task.DumpCore(f, func() syscall.Signal { return freeze.StopSignal(d.tr, d.threads) })
	if err != nil {
		return fmt.Errorf("dump task %d: %w", d.pid, err)
	}
	if err := unmapScratch(); err != nil {
		return err
	}
	cores[0].Tc = tc
	cores[0].Ids = d.ids
	if err := d.t.cgroups(d.pid, threads, cores); err != nil {
		return err
	}

	mm, err := d.dumpMM(areas, brk)
	if err != nil {
		return err
	}
	var fs *images.FsEntry
	if d.ownFs {
		if fs, err = d.dumpFs(); err != nil {
			return err
		}
	}
	if err := d.dumpPages(ctx, areas); err != nil {
		return fmt.Errorf("dump memory of %d: %w", d.pid, err)
	}
	log.Debug().Int("pid", d.pid).Msg("task dumped")

	type img struct {
		name string
		msgs []proto.Message
	}
	imgs := []img{
		{fmt.Sprintf("ids-%d.img", d.vpid), []proto.Message{d.ids}},
		{fmt.Sprintf("mm-%d.img", d.vpid), []proto.Message{mm}},
	}
	if fs != nil {
		imgs = append(imgs, img{fmt.Sprintf("fs-%d.img", d.vpid), []proto.Message{fs}})
	}
	for i, th := range threads {
		imgs = append(imgs, img{fmt.Sprintf("core-%d.img", th.Vtid), []proto.Message{cores[i]}})
	}
	if d.ownFds {
		var fdm []proto.Message
		for _, e := range fdinfos {
			fdm = append(fdm, e)
		}
		imgs = append(imgs, img{fmt.Sprintf("fdinfo-%d.img", d.ids.GetFilesId()), fdm})
	}
	// Encoded now (the messages stay the tree's), written on a copier
	// while the tracer goes on (joined with the pages).
	enc := make([][]byte, len(imgs))
	for i, im := range imgs {
		var b bytes.Buffer
		e, err := image.NewEncoder(&b, im.name)
		for _, m := range im.msgs {
			if err == nil {
				err = e.Encode(m)
			}
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", im.name, err)
		}
		enc[i] = b.Bytes()
	}
	return d.t.mm.Copies.Go(func() error {
		for i, im := range imgs {
			if err := image.WriteRaw(ctx, d.store, im.name, enc[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *tree) dumpStats() *images.DumpStatsEntry {
	us := func(t time.Duration) *uint32 { return proto.Uint32(uint32(t.Microseconds())) }
	return &images.DumpStatsEntry{
		FreezingTime: us(t.stats.Freezing), FrozenTime: us(t.stats.Frozen),
		MemdumpTime: us(t.stats.MemDump), MemwriteTime: us(t.stats.MemWrite),
		PagesScanned: proto.Uint64(t.stats.PagesScanned), PagesSkippedParent: proto.Uint64(t.stats.PagesSkippedParent),
		PagesWritten: proto.Uint64(t.stats.PagesWritten), PagesLazy: proto.Uint64(0),
		ShpagesWritten: proto.Uint64(t.stats.ShpagesWritten),
	}
}

func (d *dumper) dumpFs() (*images.FsEntry, error) {
	root, err := files.FsDir(d.pid, "root", d.t.ns.Mask&unix.CLONE_NEWNS != 0)
	if err != nil {
		return nil, err
	}
	cwd, err := files.FsDir(d.pid, "cwd", d.t.ns.Mask&unix.CLONE_NEWNS != 0)
	if err != nil {
		return nil, err
	}
	cwdID, err := d.files.addReg(cwd, procfs.Path(d.pid, "cwd"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	rootID, err := d.files.addReg(root, procfs.Path(d.pid, "root"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	st, err := procfs.ReadStatus(d.pid)
	if err != nil {
		return nil, err
	}
	umask, err := st.Octal("Umask")
	if err != nil {
		return nil, err
	}
	return &images.FsEntry{CwdId: proto.Uint32(cwdID), RootId: proto.Uint32(rootID), Umask: proto.Uint32(umask)}, nil
}
