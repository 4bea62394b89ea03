package dump

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/shmem"
	"github.com/criugo/criu/proto/images"
)

// vmFlagsKept are the smaps VmFlags that restore makes again: by the
// mmap protection, type and flags (rd wr ex sh mr mw me ms gd nr dp lo,
// ac: see image.VmaAccount), madvise (image.MadvFlags), mlock2 (lf), mseal (sl),
// guard regions (gu: image.VmaGuard); and
// those that are no state of the mapping (sd: soft-dirty tracking; uw:
// write-protect tracking, which is our own pre-dump's, incremental.go,
// or a task's own userfaultfd, whose fd the dump refuses).
var vmFlagsKept = map[string]bool{
	"rd": true, "wr": true, "ex": true, "sh": true, "mr": true, "mw": true, "me": true, "ms": true,
	"gd": true, "nr": true, "dp": true, "lo": true, "ac": true, "lf": true, "sl": true, "sd": true, "uw": true, "gu": true,
	"rr": true, "sr": true, "dc": true, "mg": true, "hg": true, "nh": true, "dd": true, "wf": true,
}

// vmFlagsSpecial are flags the kernel's own mappings ([vdso], [vvar],
// [vsyscall]) carry, which restore gets back by moving those mappings.
var vmFlagsSpecial = map[string]bool{"pf": true, "io": true, "de": true, "mm": true}

// vmFlagNames says what a VmFlag that restore cannot make again is.
var vmFlagNames = map[string]string{
	"ht": "on huge pages (VM_HUGETLB)",
	"ss": "a shadow stack (VM_SHADOW_STACK)",
	"sf": "MAP_SYNC (VM_SYNC)",
	"um": "registered with a userfaultfd for missing pages (VM_UFFD_MISSING)",
	"ui": "registered with a userfaultfd for minor faults (VM_UFFD_MINOR)",
	"pf": "a device mapping (VM_PFNMAP)",
	"io": "a device mapping (VM_IO)",
	"mm": "a device mapping (VM_MIXEDMAP)",
	"de": "not expandable (VM_DONTEXPAND), a driver's mapping",
	"ar": "an architecture-specific flag (VM_ARCH_1)",
}

// checkVmFlags refuses a mapping with a VmFlag that restore would not
// give back.
func checkVmFlags(m procfs.Mapping, special bool) error {
	for _, f := range m.VmFlags {
		if vmFlagsKept[f] || special && vmFlagsSpecial[f] {
			continue
		}
		what := vmFlagNames[f]
		if what == "" {
			what = "a flag restore cannot set"
		}
		return fmt.Errorf("%w: VmFlags %q: %s", ErrUnsupported, f, what)
	}
	return nil
}

// area is one mapping being dumped.
type area struct {
	m     procfs.Mapping
	e     *images.VmaEntry
	pages func(pm uint64) bool // which pages hold data to dump; nil: none
}

// collectVmas turns smaps into vma entries, registering mapped files.
func (d *dumper) collectVmas(maps []procfs.Mapping) ([]*area, error) {
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
		special := m.Path == "[vsyscall]" || m.Path == "[vdso]" || strings.HasPrefix(m.Path, "[vvar")
		if err := checkVmFlags(m, special); err != nil {
			return nil, &VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
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
		switch {
		case m.Path == "[vsyscall]":
			status = image.VmaAreaVsyscall
			flags |= unix.MAP_ANONYMOUS
		case m.Path == "[vdso]":
			status |= image.VmaAreaVdso
			flags |= unix.MAP_ANONYMOUS
		case strings.HasPrefix(m.Path, "[vvar"):
			status |= image.VmaAreaVvar
			flags |= unix.MAP_ANONYMOUS
		case m.Path == "[uprobes]":
			return nil, &VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: uprobes area", ErrUnsupported)}
		case m.Shared && (strings.HasPrefix(m.Path, "/dev/zero") || strings.HasPrefix(m.Path, "[anon_shmem")):
			// The object's pages are saved once, whole (package shmem),
			// not through this task's page tables: pages that only an
			// exited task faulted in are in none.
			status |= image.VmaAnonShared
			flags |= unix.MAP_ANONYMOUS
			e.Shmid = proto.Uint64(m.Inode)
			d.t.shmem.AddMapping(m.Inode, d.pid, m.Start, m.End, m.Offset)
		case strings.HasPrefix(m.Path, "/SYSV"):
			// An shmat: the inode is the shmid. The segment's bytes are
			// saved once, in ipcns-shm (ipcns.Attached), not in pages.
			if m.Offset != 0 {
				return nil, &VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: part of a System V shared memory attach", ErrUnsupported)}
			}
			if m.HasFlag("ht") {
				return nil, &VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: System V shared memory on huge pages", ErrUnsupported)}
			}
			status |= image.VmaAreaSysvipc
			e.Shmid = proto.Uint64(m.Inode)
			d.t.sysv.Add(int(m.Inode))
		case shmem.IsMemfd(m.Path):
			// The memfd's contents are saved once (package shmem); the
			// mapping names a memfd file of it.
			oflags := uint32(unix.O_RDONLY)
			if m.Shared && m.HasFlag("mw") {
				oflags = unix.O_RDWR
			}
			link := procfs.Path(d.pid, fmt.Sprintf("map_files/%x-%x", m.Start, m.End))
			fe, err := d.addMemfd(link, m.Path, oflags, 0)
			if err != nil {
				return nil, &VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
			}
			d.files.entries = append(d.files.entries, fe)
			e.Shmid = proto.Uint64(uint64(fe.GetId()))
			e.Fdflags = proto.Uint32(oflags)
			status |= image.VmaAreaMemfd
			if m.Shared {
				status |= image.VmaFileShared
			} else {
				status |= image.VmaFilePrivate
				a.pages = func(pm uint64) bool {
					return pm&mem.PMGuard == 0 && (pm&mem.PMSwap != 0 || (pm&mem.PMPresent != 0 && pm&mem.PMFile == 0))
				}
			}
		case m.FilePath() != "" || (m.Inode != 0 && !strings.HasPrefix(m.Path, "[")):
			oflags := uint32(unix.O_RDONLY)
			if m.Shared && m.HasFlag("mw") {
				oflags = unix.O_RDWR
			}
			link := procfs.Path(d.pid, fmt.Sprintf("map_files/%x-%x", m.Start, m.End))
			id, err := d.files.addReg(m.FilePath(), link, oflags, 0)
			if err != nil {
				return nil, &VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
			}
			e.Shmid = proto.Uint64(uint64(id))
			e.Fdflags = proto.Uint32(oflags)
			if m.Shared {
				status |= image.VmaFileShared
			} else {
				status |= image.VmaFilePrivate
				// Only pages that are no longer the file's.
				a.pages = func(pm uint64) bool {
					return pm&mem.PMGuard == 0 && (pm&mem.PMSwap != 0 || (pm&mem.PMPresent != 0 && pm&mem.PMFile == 0))
				}
			}
		default: // private anonymous: "", [heap], [stack], [anon:...]
			if m.Shared {
				return nil, &VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: fmt.Errorf("%w: shared mapping", ErrUnsupported)}
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
			g, err := d.guardRuns(m)
			if err != nil {
				return nil, &VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
			}
			for _, r := range g {
				e.Guards = append(e.Guards, r.Start, r.End)
			}
		}
		e.Flags = proto.Uint32(flags)
		e.Status = proto.Uint32(status)
		out = append(out, a)
	}
	return out, nil
}

// chunkSize bounds one process_vm_readv batch.
const chunkSize = 32 << 20

// pageRun is a run of pages to dump and how to read it.
type pageRun struct {
	mem.Range
	force bool // read through /proc/PID/mem: the mapping is not readable
}

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
func (d *dumper) presentRuns(areas []*area) ([]areaRuns, error) {
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
		ents, err := pm.Read(r)
		if err != nil {
			return nil, err
		}
		d.stats.PagesScanned += uint64(len(ents))
		rs := mem.Runs(a.m.Start, ents, a.pages)
		if len(rs) == 0 {
			continue
		}
		ar := areaRuns{a: a, runs: rs}
		if a.e.GetStatus()&(image.VmaAnonPrivate|image.VmaFilePrivate) != 0 {
			ar.cow = mem.Intersect(rs, d.cow)
		}
		out = append(out, ar)
	}
	return out, nil
}

// dumpPages walks pagemap, writes pagemap-PID.img and pages-N.img. With
// a parent (incremental.go), pages the parent holds unchanged are only
// named in the pagemap (PE_PARENT).
func (d *dumper) dumpPages(ctx context.Context, areas []*area) error {
	ar, err := d.presentRuns(areas)
	if err != nil {
		return err
	}
	ents, runs, err := d.splitIncremental(ar)
	if err != nil {
		return err
	}
	return d.writePages(ctx, ents, runs, false)
}

// writePages writes the pagemap entries and then the pages of runs (the
// entries flagged PE_PRESENT, in order) to pages-N.img. Reads and writes
// overlap: one goroutine fills a buffer while the other drains the
// previous one into the store. With lenient (pre-dump of a running
// task), a run that cannot be read any more is written as zeros: the
// memory changed under the reader, and the next dump takes it again.
func (d *dumper) writePages(ctx context.Context, ents []*images.PagemapEntry, runs []pageRun, lenient bool) error {
	msgs := []proto.Message{&images.PagemapHead{PagesId: proto.Uint32(d.pagesID)}}
	var total uint64
	for _, r := range runs {
		total += r.Len() / mem.PageSize
	}
	for _, e := range ents {
		msgs = append(msgs, e)
	}
	d.stats.PagesWritten = total
	if err := image.WriteImage(ctx, d.store, fmt.Sprintf("pagemap-%d.img", d.vpid), msgs...); err != nil {
		return err
	}

	pagesName := fmt.Sprintf("pages-%d.img", d.pagesID)
	w, err := d.store.Create(ctx, pagesName)
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
		buf []byte
		err error
	}
	full := make(chan chunk, 1)
	free := make(chan []byte, 2)
	// Page-aligned, so that the store may write them around the page
	// cache; no bigger than the pages (fresh memory costs, ~64 MiB of it
	// would dominate a small dump).
	bufSize := int(min(chunkSize, total*mem.PageSize))
	free <- mem.AlignedBuffer(bufSize)[:0]
	free <- mem.AlignedBuffer(bufSize)[:0]
	stop := make(chan struct{})
	defer close(stop)
	var readTime time.Duration
	go func() {
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
			t0 := time.Now()
			buf = buf[:0]
			var batch []mem.Range
			var size uint64
			for i < len(runs) && !runs[i].force {
				r := runs[i].Range
				if size+r.Len() > chunkSize {
					if size > 0 {
						break
					}
					// A run bigger than a chunk: split it.
					r.End = r.Start + chunkSize
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
				err = mem.ReadRemote(d.pid, batch, buf)
				if err != nil && lenient {
					err = d.readLenient(batch, buf, err)
				}
			} else {
				// An unreadable mapping: one run through /proc/PID/mem.
				r := runs[i].Range
				if r.Len() > chunkSize {
					r.End = r.Start + chunkSize
					runs[i].Start = r.End
				} else {
					i++
				}
				if mf == nil {
					mf, err = mem.OpenFile(d.pid)
				}
				if err == nil {
					buf = buf[:r.Len()]
					err = mf.ReadAt(buf, r.Start)
					if err != nil && lenient {
						err = d.readLenient([]mem.Range{r}, buf, err)
					}
				}
			}
			readTime += time.Since(t0)
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
	var writeTime time.Duration
	for c := range full {
		if c.err != nil {
			return c.err
		}
		t1 := time.Now()
		if _, err := w.Write(c.buf); err != nil {
			return fmt.Errorf("write %s: %w", pagesName, err)
		}
		writeTime += time.Since(t1)
		free <- c.buf
	}
	t1 := time.Now()
	if err := w.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", pagesName, err)
	}
	committed = true
	writeTime += time.Since(t1)
	d.stats.MemDump = time.Since(t0) - writeTime
	d.stats.MemWrite = writeTime
	_ = readTime
	return nil
}

// addMemfd records the memfd open at link (an fd or a map_files link)
// as a MEMFD file with flags and pos; its inode and contents go to the
// tree's memfd and shmem sets.
func (d *dumper) addMemfd(link, target string, flags uint32, pos int64) (*images.FileEntry, error) {
	ino, err := d.t.memfds.Add(link, target, &d.t.shmem)
	if err != nil {
		return nil, err
	}
	id := d.files.id()
	return &images.FileEntry{Type: images.FdTypes_MEMFD.Enum(), Id: proto.Uint32(id), Memfd: &images.MemfdFileEntry{
		Id: proto.Uint32(id), Flags: proto.Uint32(flags), Pos: proto.Uint64(uint64(pos)), Fown: image.ZeroFown(), InodeId: proto.Uint32(ino),
	}}, nil
}

// findShared records, for every task forked from a parent in the tree,
// the pages of its private mappings that are still its parent's (the
// same PFN at the same address: shared copy-on-write since the fork).
// It must run before any task's memory is read: process_vm_readv pins
// the pages it reads, and pinning a shared anonymous page makes the
// kernel give the task a copy of its own (FAULT_FLAG_UNSHARE).
func (t *tree) findShared() error {
	kids := map[*dumper][]mem.Range{}
	for _, d := range t.tasks {
		p := t.byPid[d.ppid]
		if d.zombie || p == nil || p.zombie {
			continue
		}
		if err := d.findShared(p); err != nil {
			return fmt.Errorf("pages shared by %d with its parent %d: %w", d.pid, p.pid, err)
		}
		kids[p] = append(kids[p], d.cow...)
	}
	// What either side shares is read through /proc/PID/mem, which does
	// not pin: the tree keeps its sharing (pre-dump, --leave-running)
	// and the dump does not copy every shared page.
	for _, d := range t.tasks {
		d.noPin = mergeRuns(append(append([]mem.Range(nil), d.cow...), kids[d]...))
	}
	return nil
}

// mergeRuns sorts rs and joins touching or overlapping ranges.
func mergeRuns(rs []mem.Range) []mem.Range {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	var out []mem.Range
	for _, r := range rs {
		if k := len(out); k > 0 && out[k-1].End >= r.Start {
			out[k-1].End = max(out[k-1].End, r.End)
		} else {
			out = append(out, r)
		}
	}
	return out
}

func (d *dumper) findShared(p *dumper) error {
	f, err := os.Open(procfs.Path(d.pid, "maps"))
	if err != nil {
		return err
	}
	maps, err := procfs.ParseMaps(f)
	f.Close()
	if err != nil {
		return err
	}
	pm, err := mem.OpenPagemap(d.pid)
	if err != nil {
		return err
	}
	defer pm.Close()
	ppm, err := mem.OpenPagemap(p.pid)
	if err != nil {
		return err
	}
	defer ppm.Close()
	for _, m := range maps {
		if m.Shared || strings.HasPrefix(m.Path, "[v") {
			continue
		}
		r := mem.Range{Start: m.Start, End: m.End}
		a, err := pm.Read(r)
		if err != nil {
			return err
		}
		b, err := ppm.Read(r)
		if err != nil {
			return err
		}
		d.cow = append(d.cow, mem.SharedRuns(r.Start, a, b)...)
	}
	return nil
}

// guardRuns are the guard region pages of mapping m, from pagemap.
func (d *dumper) guardRuns(m procfs.Mapping) ([]mem.Range, error) {
	pm, err := mem.OpenPagemap(d.pid)
	if err != nil {
		return nil, err
	}
	defer pm.Close()
	ents, err := pm.Read(mem.Range{Start: m.Start, End: m.End})
	if err != nil {
		return nil, err
	}
	return mem.Runs(m.Start, ents, func(e uint64) bool { return e&mem.PMGuard != 0 }), nil
}

// mmPrctls records the process-wide memory prctls: memory-deny-write-
// execute (PR_GET_MDWE) and KSM merging of every mapping
// (PR_GET_MEMORY_MERGE); a kernel without one answers EINVAL.
func (d *dumper) mmPrctls(mm *images.MmEntry) error {
	in := d.injector(d.threads[0])
	v, err := in.Syscall("prctl(PR_GET_MDWE)", unix.SYS_PRCTL, unix.PR_GET_MDWE, 0, 0, 0, 0)
	switch {
	case err == nil && v != 0:
		mm.Mdwe = proto.Uint32(uint32(v))
	case err != nil && !errors.Is(err, unix.EINVAL):
		return err
	}
	v, err = in.Syscall("prctl(PR_GET_MEMORY_MERGE)", unix.SYS_PRCTL, unix.PR_GET_MEMORY_MERGE, 0, 0, 0, 0)
	switch {
	case err == nil && v != 0:
		mm.MemoryMerge = proto.Bool(true)
	case err != nil && !errors.Is(err, unix.EINVAL):
		return err
	}
	return nil
}
