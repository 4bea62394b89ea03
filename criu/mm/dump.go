package mm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/aio"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/cow"
	"github.com/criugo/criu/criu/mm/pageio"
	"github.com/criugo/criu/criu/mm/vmflags"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/shmem"
	"github.com/criugo/criu/criu/vdso"
	"github.com/criugo/criu/proto/images"
)

// DumpTask is what dumping a task's memory needs of the dumper that
// holds the task (frozen, seized by its tracer), and of the tree's other
// objects a mapping leads to.
type DumpTask interface {
	// Sys runs system call nr in the task's leader, injected by ptrace
	// at the task's syscall instruction.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	// MapFile records the regular file at path, opened through link
	// (a map_files link, /proc/PID/exe) with flags, and returns its
	// file id.
	MapFile(path, link string, flags uint32) (uint32, error)
	// MapMemfd records the memfd mapped through link (a map_files
	// link; target is what it reads) as a MEMFD file with flags and
	// returns its file id; its contents are the tree's memfd set's.
	MapMemfd(link, target string, flags uint32) (uint32, error)
	// MapShmem records a shared anonymous mapping [start, end) of the
	// object inode at offset off, saved once with the tree (package
	// shmem).
	MapShmem(inode, start, end, off uint64)
	// MapSysv records an attach of System V shared memory segment
	// shmid, whose bytes the tree saves once.
	MapSysv(shmid int)
	// MapSocket records m, a packet socket's ring: e's shmid is set later.
	MapSocket(m procfs.Mapping, e *images.VmaEntry)
}

// Tree is the memory part of one (pre-)dump of a process tree: its live
// tasks, the pages they share copy-on-write with their parents
// (FindShared) and the tracking of written pages (incremental.go). It
// is built and used while the tree is frozen, by one goroutine (but the
// page copies on Copies); a pre-dump's WritePages runs after, one at a time.
type Tree struct {
	store image.Store
	log   zerolog.Logger
	tasks []*TaskDump
	// inc is set for an incremental dump (incremental.go); nil otherwise.
	inc *incremental
	// aioRings are the AIO rings mapped so far, by inode: the task's.
	aioRings map[uint64]int
	// cowOn: a copy-on-write dump (cow.go) of snapshots cows.
	cowOn bool
	cows  cow.Set
	// prepared is pages-1.img, made before the freeze (Prepare), until
	// the root's pages are written into it; Close aborts it if unused.
	// preparedImg is its mapping, when it could be mapped.
	prepared    image.Writer
	preparedImg *pageio.Image
	// Copies, when set, copy a frozen task's pages while the next is dumped.
	Copies *pageio.Copies
}

// NewTree starts the memory part of a dump into s.
func NewTree(s image.Store, log zerolog.Logger) *Tree {
	return &Tree{store: s, log: log}
}

// TaskDump dumps the memory of one live task of the tree: its mappings
// (Collect), its mm (MM), and its pages (PlanPages, WritePages).
type TaskDump struct {
	tree *Tree
	task DumpTask
	// pid is the host's, for everything done from outside; vpid the
	// task's pid in the images (pagemap-VPID.img); pagesID numbers its
	// pages-N.img.
	pid, vpid int
	pagesID   uint32
	parent    *TaskDump // nil for the root and a child of a zombie
	// cow are the pages of its private mappings that the task shares
	// with its parent, copy-on-write (Tree.FindShared), sorted.
	cow []mem.Range
	// noPin are the pages shared with its parent or a child, read
	// through /proc/PID/mem (FindShared), sorted.
	noPin []mem.Range
	// written are its runs once pages-N.img is committed (in order).
	written atomic.Pointer[[]pageRun]
	// Stats are the task's memory figures, once its pages are written.
	Stats DumpStats
}

// DumpStats are the memory figures of one task's dump.
type DumpStats struct {
	MemDump      time.Duration // reading pages
	MemWrite     time.Duration // writing pages to the store
	PagesScanned uint64
	PagesWritten uint64
	// PagesSkippedParent are pages left in the parent images.
	PagesSkippedParent uint64
}

// Add registers a live task of the tree, parents before their children.
// parent is the task's parent's TaskDump, nil for the root and for a
// task whose parent is a zombie. pid is the host's, vpid the one in the
// images; pagesID numbers its pages-N.img.
func (t *Tree) Add(task DumpTask, pid, vpid int, pagesID uint32, parent *TaskDump) *TaskDump {
	d := &TaskDump{tree: t, task: task, pid: pid, vpid: vpid, pagesID: pagesID, parent: parent}
	t.tasks = append(t.tasks, d)
	return d
}

// Layout is a task's mappings as Collect found them.
type Layout struct {
	areas []*area
}

// area is one mapping being dumped.
type area struct {
	m     procfs.Mapping
	e     *images.VmaEntry
	pages func(pm uint64) bool // which pages hold data to dump; nil: none
	// anon: pages are the present and swapped ones, no guard among them.
	anon bool
	aio  *images.AioRingEntry // the context of an AIO ring
}

// Collect turns smaps into vma entries, registering mapped files.
func (d *TaskDump) Collect(maps []procfs.Mapping) (*Layout, error) {
	areas, err := d.collectVmas(maps)
	if err != nil {
		return nil, err
	}
	vmas := make([]*images.VmaEntry, len(areas))
	for i, a := range areas {
		vmas[i] = a.e
	}
	if err := vdso.CheckDump(vmas); err != nil {
		return nil, fmt.Errorf("%w (restore here could not place them)", err)
	}
	return &Layout{areas: areas}, nil
}

func (d *TaskDump) collectVmas(maps []procfs.Mapping) ([]*area, error) {
	var out []*area
	for _, m := range maps {
		a := &area{m: m}
		e := &images.VmaEntry{
			Start: proto.Uint64(m.Start), End: proto.Uint64(m.End), Pgoff: proto.Uint64(m.Offset),
			Shmid: proto.Uint64(0), Prot: proto.Uint32(uint32(m.Prot)), Fd: proto.Int64(-1),
		}
		a.e = e
		var flags uint32
		var status uint32 = image.VmaAreaRegular
		if m.Shared {
			flags = unix.MAP_SHARED
		} else {
			flags = unix.MAP_PRIVATE
		}
		if m.HasFlag("gd") {
			flags |= unix.MAP_GROWSDOWN
		}
		if m.HasFlag("nr") {
			flags |= unix.MAP_NORESERVE
		}
		if m.HasFlag("dp") {
			// MAP_DROPPABLE is a mapping type of its own, not MAP_PRIVATE.
			flags = flags&^unix.MAP_PRIVATE | unix.MAP_DROPPABLE
		}
		if m.HasFlag("lo") && !m.HasFlag("lf") {
			flags |= unix.MAP_LOCKED
		}
		special := m.Path == "[vsyscall]" || m.Path == "[vdso]" || strings.HasPrefix(m.Path, "[vvar") || aio.IsRing(m.Path)
		if err := vmflags.Check(m, special, m.HasFlag("ht")); err != nil {
			return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
		}
		var madv uint64
		for f, adv := range image.MadvFlags {
			if m.HasFlag(f) {
				madv |= 1 << adv
			}
		}
		if madv != 0 {
			e.Madv = proto.Uint64(madv)
		}
		// A guard region page reads as a swap entry: it holds no data.
		present := func(pm uint64) bool { return pm&mem.PMGuard == 0 && pm&(mem.PMPresent|mem.PMSwap) != 0 }
		memfd := shmem.IsMemfd(m.Path) || shmem.IsAnon(m.Path, unix.Mkdev(m.Major, m.Minor))
		switch {
		case m.Path == "[vsyscall]":
			status = image.VmaAreaVsyscall
			flags |= unix.MAP_ANONYMOUS
		case m.Path == "[vdso]":
			// As CRIU records it: private anonymous, its pages saved
			// (CRIU's restore reads the dumped vdso's ELF from them).
			status |= image.VmaAreaVdso | image.VmaAnonPrivate
			flags |= unix.MAP_ANONYMOUS
			a.pages = func(uint64) bool { return true }
		case strings.HasPrefix(m.Path, "[vvar"):
			status |= image.VmaAreaVvar | image.VmaAnonPrivate
			flags |= unix.MAP_ANONYMOUS
		case strings.HasPrefix(m.Path, "/SYSV"):
			// An shmat (on huge pages too): the inode is the shmid. The segment's
			// bytes are saved once, in ipcns-shm (ipcns.Attached: MapSysv).
			if m.Offset != 0 {
				return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: part of a System V shared memory attach", errdefs.ErrUnsupported)}
			}
			status |= image.VmaAreaSysvipc
			e.Shmid = proto.Uint64(m.Inode)
			d.task.MapSysv(int(m.Inode))
		case m.HasFlag("ht"):
			// On huge pages (hugetlb), as CRIU 4.2 saves them: the page
			// size in the flags; a private anonymous mapping has its
			// pages saved, a shared one (anonymous, or of a memfd) is a
			// memfd of MFD_HUGETLB, its contents saved once (package
			// shmem), and a private one of a memfd names it too.
			huge := shmem.HugeSizeBits(m.KernelPageSize)
			anon := strings.TrimSuffix(m.Path, " (deleted)") == "/anon_hugepage"
			switch {
			case huge == 0:
				return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: huge pages of %d bytes", errdefs.ErrUnsupported, m.KernelPageSize)}
			case anon && !m.Shared:
				status |= image.VmaAnonPrivate
				flags |= unix.MAP_ANONYMOUS
				a.pages = present
			case (m.Shared && anon) || memfd:
				st, err := d.fileVma(m, e, a, true)
				if err != nil {
					return nil, err
				}
				status |= st
			default:
				return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: a mapping of a file on huge pages other than a memfd", errdefs.ErrUnsupported)}
			}
			flags |= unix.MAP_HUGETLB | huge
		case aio.IsRing(m.Path):
			// An AIO context's ring (package aio): saved whole, as
			// CRIU does, and made anew at restore.
			if !m.Shared {
				return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: a private AIO ring mapping", errdefs.ErrUnsupported)}
			}
			if other, ok := d.tree.aioRings[m.Inode]; ok {
				return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: an AIO ring task %d maps too (inherited over fork, it is no context of this task's)", errdefs.ErrUnsupported, other)}
			}
			ring, err := aio.Dump(d.pid, m.Start, m.End)
			if err != nil {
				return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
			}
			if d.tree.aioRings == nil {
				d.tree.aioRings = map[uint64]int{}
			}
			d.tree.aioRings[m.Inode] = d.vpid
			a.aio = ring
			status = image.VmaAreaAioring // alone, as CRIU writes it
			a.pages = func(uint64) bool { return true }
		case m.Path == "[uprobes]":
			return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: uprobes area", errdefs.ErrUnsupported)}
		case m.Shared && (strings.HasPrefix(m.Path, "/dev/zero") || strings.HasPrefix(m.Path, "[anon_shmem")):
			// The object's pages are saved once, whole (package shmem),
			// not through this task's page tables: pages that only an
			// exited task faulted in are in none.
			status |= image.VmaAnonShared
			flags |= unix.MAP_ANONYMOUS
			e.Shmid = proto.Uint64(m.Inode)
			d.task.MapShmem(m.Inode, m.Start, m.End, m.Offset)
		case strings.HasPrefix(m.Path, "socket:["):
			// A packet socket's ring (PACKET_MMAP), mapped from the socket (no file bits, as CRIU's).
			status |= image.VmaAreaSocket
			if !m.Shared {
				a.pages = mem.PrivatePage // what a private one wrote
			}
			d.task.MapSocket(m, e)
		case memfd || m.FilePath() != "" || (m.Inode != 0 && !strings.HasPrefix(m.Path, "[")):
			// A memfd's contents are saved once (package shmem), the mapping names a
			// memfd file of it (a private one of shared anonymous memory too).
			st, err := d.fileVma(m, e, a, memfd)
			if err != nil {
				return nil, err
			}
			status |= st
		default: // private anonymous: "", [heap], [stack], [anon:...]
			if m.Shared {
				return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: shared mapping", errdefs.ErrUnsupported)}
			}
			status |= image.VmaAnonPrivate
			flags |= unix.MAP_ANONYMOUS
			if m.Path == "[heap]" {
				status |= image.VmaAreaHeap
			}
			if m.Path == "[stack]" {
				status |= image.VmaAreaStack
			}
			a.pages = present
			if m.HasFlag("dp") {
				// The kernel may drop a droppable page whenever it likes
				// (it then reads as zeros): its pages are not saved, and
				// the mapping comes back empty, as CRIU 4.2 restores it.
				a.pages = nil
			}
			a.anon = !m.HasFlag("gu")
		}
		if m.HasFlag("ac") {
			status |= image.VmaAccount
		}
		if m.HasFlag("lf") {
			status |= image.VmaLockOnFault
		}
		if m.HasFlag("sl") {
			status |= image.VmaSealed
		}
		if m.HasFlag("gu") {
			status |= image.VmaGuard
			g, err := mem.GuardRuns(d.pid, mem.Range{Start: m.Start, End: m.End})
			if err != nil {
				return nil, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
			}
			for _, r := range g {
				e.Guards = append(e.Guards, r.Start, r.End)
			}
		}
		e.Flags = proto.Uint32(flags)
		e.Status = proto.Uint32(status)
		if k := len(out); k > 0 && status&image.VmaAreaVvar != 0 && out[k-1].e.GetStatus()&image.VmaAreaVvar != 0 && out[k-1].m.End == m.Start {
			// [vvar] and [vvar_vclock] are one VVAR area, as CRIU
			// records them (its restore takes one).
			out[k-1].m.End = m.End
			out[k-1].e.End = proto.Uint64(m.End)
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// MM is the task's mm entry: the mm fields of its stat st (code, data,
// stack, args, env), brk (the task's brk(0)), auxv, exe, dumpable, THP,
// the memory prctls and the mappings of l.
func (d *TaskDump) MM(l *Layout, st procfs.Stat, brk uint64) (*images.MmEntry, error) {
	auxv, err := procfs.ReadAuxv(d.pid)
	if err != nil {
		return nil, err
	}
	auxv = savedAuxv(auxv)
	exe, err := os.Readlink(procfs.Path(d.pid, "exe"))
	if err != nil {
		return nil, fmt.Errorf("read exe link: %w", err)
	}
	exeID, err := d.task.MapFile(strings.TrimSuffix(exe, " (deleted)"), procfs.Path(d.pid, "exe"), unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	dumpable, err := d.task.Sys("prctl(PR_GET_DUMPABLE)", unix.SYS_PRCTL, unix.PR_GET_DUMPABLE)
	if err != nil {
		return nil, err
	}
	mm := &images.MmEntry{
		MmStartCode: proto.Uint64(st.StartCode), MmEndCode: proto.Uint64(st.EndCode),
		MmStartData: proto.Uint64(st.StartData), MmEndData: proto.Uint64(st.EndData),
		MmStartStack: proto.Uint64(st.StartStack), MmStartBrk: proto.Uint64(st.StartBrk), MmBrk: proto.Uint64(brk),
		MmArgStart: proto.Uint64(st.ArgStart), MmArgEnd: proto.Uint64(st.ArgEnd),
		MmEnvStart: proto.Uint64(st.EnvStart), MmEnvEnd: proto.Uint64(st.EnvEnd),
		ExeFileId: proto.Uint32(exeID), MmSavedAuxv: auxv, Dumpable: proto.Int32(int32(dumpable)),
	}
	pst, err := procfs.ReadStatus(d.pid)
	if err != nil {
		return nil, err
	}
	thp, err := pst.Uint("THP_enabled")
	if err != nil {
		return nil, err
	}
	if thp == 0 {
		mm.ThpDisabled = proto.Bool(true)
	}
	for _, a := range l.areas {
		mm.Vmas = append(mm.Vmas, a.e)
		if a.aio != nil {
			mm.Aios = append(mm.Aios, a.aio)
		}
	}
	if err := d.mmPrctls(mm); err != nil {
		return nil, err
	}
	return mm, nil
}

// pageRun is a run of pages to dump and how to read it.
type pageRun = pageio.Run

// areaRuns are the pages of one area that hold data, as runs.
type areaRuns struct {
	a    *area
	runs []mem.Range
	// cow are the pages among runs that the task's parent maps at the
	// same address, the same physical page (image.PeCow).
	cow []mem.Range
}

// presentRuns walks pagemap: for each area that may hold data, the runs
// of pages that do.
func (d *TaskDump) presentRuns(areas []*area) ([]areaRuns, error) {
	pm, err := mem.OpenPagemap(d.pid)
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	var out []areaRuns
	for _, a := range areas {
		if a.pages == nil {
			continue
		}
		r := mem.Range{Start: a.m.Start, End: a.m.End}
		d.Stats.PagesScanned += r.Len() / mem.PageSize
		var rs []mem.Range
		var ents []uint64
		if a.anon { // runs from the kernel, not 8 bytes a page: a big heap's freeze
			rs, err = pm.ScanPresent(r)
		} else if ents, err = pm.Read(r); err == nil {
			rs = mem.Runs(a.m.Start, ents, a.pages)
		}
		if err != nil {
			return nil, err
		}
		if len(rs) == 0 {
			continue
		}
		ar := areaRuns{a: a, runs: rs}
		if st := a.e.GetStatus(); st&(image.VmaAnonPrivate|image.VmaFilePrivate) != 0 && st&image.VmaAreaVdso == 0 {
			ar.cow = mem.Intersect(rs, d.cow)
		}
		out = append(out, ar)
	}
	return out, nil
}

// DumpPages walks pagemap, writes pagemap-PID.img and pages-N.img. With
// a parent (incremental.go), pages the parent holds unchanged are only
// named in the pagemap (PE_PARENT).
func (d *TaskDump) DumpPages(ctx context.Context, l *Layout) error {
	p, err := d.PlanPages(l)
	if err != nil {
		return err
	}
	if d.tree.cowOn && d.tree.inc == nil {
		if armed, err := d.armCOW(ctx, p, l); armed || err != nil {
			return err
		}
	}
	return d.WritePages(ctx, p, false)
}

// Pages are the pages of a task that a dump writes: its pagemap entries
// and the runs to read.
type Pages struct {
	ents []*images.PagemapEntry
	runs []pageRun
}

// PlanPages walks pagemap and decides, for the pages of l that hold
// data, which are written and which stay in the parent images. The task
// must be frozen.
func (d *TaskDump) PlanPages(l *Layout) (*Pages, error) {
	ar, err := d.presentRuns(l.areas)
	if err != nil {
		return nil, err
	}
	ents, runs, err := d.splitIncremental(ar)
	if err != nil {
		return nil, err
	}
	return &Pages{ents: ents, runs: runs}, nil
}

// WritePages writes what PlanPages decided (writePages). With lenient
// (a pre-dump, the task running again) a run that cannot be read any
// more is written as zeros.
func (d *TaskDump) WritePages(ctx context.Context, p *Pages, lenient bool) error {
	return d.writePages(ctx, p.ents, p.runs, lenient)
}

// writePages writes the pagemap entries and then the pages of runs (the
// entries flagged PE_PRESENT, in order) to pages-N.img (pageio.Dump).
// With lenient (pre-dump of a running task), a run that cannot be read
// any more is written as zeros: the memory changed under the reader,
// and the next dump takes it again. Tree.Copies, if set, copy the rest.
func (d *TaskDump) writePages(ctx context.Context, ents []*images.PagemapEntry, runs []pageRun, lenient bool) error {
	if err := d.writePagemap(ctx, ents, runs); err != nil {
		return err
	}
	pagesName := fmt.Sprintf("pages-%d.img", d.pagesID)
	w, err := d.tree.pagesWriter(ctx, d.pagesID)
	if err != nil {
		return err
	}
	if done, err := d.tree.writeMapped(d, w, runs, lenient); done || err != nil {
		return err
	}
	var onFail func([]mem.Range, []byte) error
	if lenient {
		onFail = d.readLenient
	}
	copyPages := func() error {
		from, done := runs, func() {}
		// Only pages shared still (a write since FindShared, rseq's, unshares).
		if p := d.parent; p != nil && p.written.Load() != nil && !lenient {
			if still, err := mem.SharedWithParent(d.pid, p.pid); err == nil {
				from, done = pageio.FromImage(func() (io.ReadCloser, error) {
					return d.tree.store.Open(ctx, fmt.Sprintf("pages-%d.img", p.pagesID))
				}, *p.written.Load(), runs, mem.Intersect(d.cow, still))
			}
		}
		defer done()
		t, err := pageio.DumpCommit(d.pid, from, w, pagesName, onFail)
		d.Stats.MemDump, d.Stats.MemWrite = t.Read, t.Write
		if err == nil {
			d.written.Store(&runs)
		}
		return err
	}
	return d.tree.Copies.Go(copyPages)
}

// writePagemap writes pagemap-PID.img, whose present entries are runs.
func (d *TaskDump) writePagemap(ctx context.Context, ents []*images.PagemapEntry, runs []pageRun) error {
	msgs := []proto.Message{&images.PagemapHead{PagesId: proto.Uint32(d.pagesID)}}
	total := pageio.Size(runs) / mem.PageSize
	for _, e := range ents {
		msgs = append(msgs, e)
	}
	d.Stats.PagesWritten = total
	return image.WriteImage(ctx, d.tree.store, fmt.Sprintf("pagemap-%d.img", d.vpid), msgs...)
}

// FindShared records, for every task forked from a parent in the tree,
// the pages of its private mappings that are still its parent's (the
// same PFN at the same address: shared copy-on-write since the fork).
// It must run before any task's memory is read: process_vm_readv pins
// the pages it reads, and pinning a shared anonymous page makes the
// kernel give the task a copy of its own (FAULT_FLAG_UNSHARE).
func (t *Tree) FindShared() error {
	kids := map[*TaskDump][]mem.Range{}
	for _, d := range t.tasks {
		p := d.parent
		if p == nil {
			continue
		}
		var err error
		if d.cow, err = mem.SharedWithParent(d.pid, p.pid); err != nil {
			return fmt.Errorf("pages shared by %d with its parent %d: %w", d.pid, p.pid, err)
		}
		kids[p] = append(kids[p], d.cow...)
	}
	// What either side shares is read through /proc/PID/mem, which does
	// not pin: the tree keeps its sharing (pre-dump, --leave-running)
	// and the dump does not copy every shared page.
	for _, d := range t.tasks {
		d.noPin = mem.Merge(append(append([]mem.Range(nil), d.cow...), kids[d]...))
	}
	return nil
}

// mmPrctls records the process-wide memory prctls: memory-deny-write-
// execute (PR_GET_MDWE) and KSM merging of every mapping
// (PR_GET_MEMORY_MERGE); a kernel without one answers EINVAL.
func (d *TaskDump) mmPrctls(mm *images.MmEntry) error {
	v, err := d.task.Sys("prctl(PR_GET_MDWE)", unix.SYS_PRCTL, unix.PR_GET_MDWE, 0, 0, 0, 0)
	switch {
	case err == nil && v != 0:
		mm.Mdwe = proto.Uint32(uint32(v))
	case err != nil && !errors.Is(err, unix.EINVAL):
		return err
	}
	v, err = d.task.Sys("prctl(PR_GET_MEMORY_MERGE)", unix.SYS_PRCTL, unix.PR_GET_MEMORY_MERGE, 0, 0, 0, 0)
	switch {
	case err == nil && v != 0:
		mm.MemoryMerge = proto.Bool(true)
	case err != nil && !errors.Is(err, unix.EINVAL):
		return err
	}
	return nil
}

// readLenient reads the ranges one by one after a batch read failed in
// a running task: what cannot be read any more (unmapped meanwhile, or
// the task exited: a shell's child, the tree ran on, as CRIU's read mode
// skips it) is left zero and stale (the next dump takes it again, if the
// task is still there).
func (d *TaskDump) readLenient(batch []mem.Range, buf []byte) error {
	mem.ReadEach(d.pid, batch, buf, func(r mem.Range, err error) {
		d.tree.inc.markStale(d.pid, r)
		d.tree.log.Debug().Err(err).Int("pid", d.pid).Uint64("start", r.Start).Msg("pre-dump: pages changed under the reader, or the task exited")
	})
	return nil
}
