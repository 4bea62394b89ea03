package mm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/aio"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/pageio"
	"github.com/criugo/criu/criu/mm/pagemap"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/vdso"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// RestoreTask is what restoring a task's memory needs of the restorer
// that holds the new task (stopped, traced), and of the objects the
// restorer made for the tree (shared memory, memfds, System V segments,
// files).
type RestoreTask interface {
	// Pid is the task's host pid.
	Pid() int
	// Sys runs system call nr in the task's leader, injected by ptrace
	// at SyscallIP.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	// SyscallIP is the address of the syscall instruction injections
	// run at (in the task's [vdso]); SetSyscallIP moves it, as the
	// vdso moves.
	SyscallIP() uint64
	SetSyscallIP(ip uint64)
	// Scratch is the address of the scratch area.
	Scratch() uint64
	// SetScratch tells where the scratch area (ScratchSize bytes) is
	// mapped in the task from now on.
	SetScratch(addr uint64)
	// WriteScratch writes b at offset off of the scratch area.
	WriteScratch(off uint64, b []byte) error
	// CString writes s NUL-terminated at offset off of the scratch
	// area and returns its address.
	CString(off uint64, s string) (uint64, error)
	// FilePath is where the task opens regular file id from: its
	// name, or its ghost copy.
	FilePath(id uint32) (string, error)
	// ExeElsewhere: the task's executable is not the file path leads
	// to in its mounts (a container's stub ran it from outside them).
	ExeElsewhere(path string) bool
	// OpenMemfd opens memfd (or packet socket) file id, the restorer's
	// copy, in the task with flags and returns the fd.
	OpenMemfd(id uint32, flags uint64) (uint64, error)
	// MapShared maps, at v's address with prot, the shared anonymous
	// object the restorer made for v's shmid; false when there is none.
	MapShared(v *images.VmaEntry, prot uint32) (bool, error)
	// AttachSysv attaches the System V segment v maps at its address,
	// inside the task, and returns the protection it has.
	AttachSysv(v *images.VmaEntry) (prot uint32, err error)
}

// TaskImages are the images of a task's memory.
type TaskImages struct {
	// Pid is the task's pid in the images (pagemap-PID.img of the
	// parent images).
	Pid     uint32
	MM      *images.MmEntry
	Pagemap []*images.PagemapEntry
	PagesID uint32 // pages-N.img
}

// RestoreStats are the page figures of one task's restore.
type RestoreStats struct {
	PagesRestored   uint64
	PagesSkippedCow uint64
	PagesCompared   uint64
}

// ScratchSize is the size of the scratch area Restore maps in the task,
// which the restorer uses for the arguments of its injected syscalls
// (and unmaps at the end).
const ScratchSize = 4 * mem.PageSize

// taskSize is the end of the x86-64 user address space (TASK_SIZE).
const taskSize = 0x7ffffffff000

var atFdcwd = func() uint64 { v := int64(unix.AT_FDCWD); return uint64(v) }()

// restorer restores one task's memory.
type restorer struct {
	t       RestoreTask
	log     zerolog.Logger
	store   image.Store
	pid     int
	img     TaskImages
	inherit *images.MmEntry // the parent's mm, when forked from it; or nil
	scr     uint64          // the scratch area, once mapped
	stats   RestoreStats
}

func (r *restorer) sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	return r.t.Sys(name, nr, args...)
}

// Restore rebuilds the address space of the new task t from img and
// the pages in s (and its parents), and sets its mm fields. inherit is
// the mm of the parent the task was forked from after the parent's
// memory was restored (inherit.go), nil for the root. It maps the
// scratch area (SetScratch).
func Restore(ctx context.Context, t RestoreTask, s image.Store, img TaskImages, inherit *images.MmEntry, log zerolog.Logger) (RestoreStats, error) {
	r := &restorer{t: t, log: log, store: s, pid: t.Pid(), img: img, inherit: inherit}
	err := r.restoreMemory(ctx)
	return r.stats, err
}

// FinishRestore finishes the memory of task t once its children are
// forked (finishMemory).
func FinishRestore(t RestoreTask, mm *images.MmEntry) error {
	r := &restorer{t: t, pid: t.Pid(), img: TaskImages{MM: mm}}
	return r.finishMemory()
}

func overlaps(a, b mem.Range) bool { return a.Start < b.End && b.Start < a.End }

// vmap is a dumped VMA and how it was mapped.
type vmap struct {
	e        *images.VmaEntry
	mapProt  uint32 // protection at mmap time
	viaForce bool   // fill through /proc/PID/mem
	// kept: the task got this VMA by fork from its restored parent, as
	// it had it at dump (inherit.go); its pages flagged PeCow are left
	// shared with the parent's.
	kept bool
	// advised: the advice given before the fill (hugeAdvice), as bits.
	advised uint64
}

// restoreMemory rebuilds the address space of the new task.
func (r *restorer) restoreMemory(ctx context.Context) error {
	vmas := r.img.MM.GetVmas()
	// 1. The kernel's special mappings move to their dumped addresses.
	keep, err := vdso.Move(r.t, r.pid, vmas)
	if err != nil {
		return err
	}
	// The private mappings the task got by fork from its restored
	// parent, unchanged since, stay (inherit.go).
	kept := r.inheritedVmas()
	for _, v := range vmas {
		if end, ok := kept[v.GetStart()]; ok {
			keep = append(keep, mem.Range{Start: v.GetStart(), End: end})
		}
	}
	// 2. Everything else goes.
	sort.Slice(keep, func(i, j int) bool { return keep[i].Start < keep[j].Start })
	prev := uint64(0)
	for _, k := range append(keep, mem.Range{Start: taskSize, End: taskSize}) {
		if k.Start > prev {
			if _, err := r.sys("munmap", unix.SYS_MUNMAP, prev, k.Start-prev); err != nil {
				return err
			}
		}
		prev = k.End
	}
	// 3. A scratch area where no dumped mapping goes.
	var all []mem.Range
	for _, v := range vmas {
		all = append(all, mem.Range{Start: v.GetStart(), End: v.GetEnd()})
	}
	for cand := uint64(0x10000000); cand < taskSize; cand += 1 << 30 {
		t := mem.Range{Start: cand, End: cand + ScratchSize}
		ok := true
		for _, a := range all {
			if overlaps(t, a) {
				ok = false
				break
			}
		}
		if ok {
			r.scr = cand
			break
		}
	}
	r.t.SetScratch(r.scr)
	if _, err := r.sys("mmap", unix.SYS_MMAP, r.scr, ScratchSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0); err != nil {
		return err
	}
	// 4. Every dumped mapping.
	var maps []*vmap
	for _, v := range vmas {
		st := v.GetStatus()
		if st&(image.VmaAreaVdso|image.VmaAreaVvar|image.VmaAreaVsyscall) != 0 || st&(image.VmaAreaRegular|image.VmaAreaAioring) == 0 {
			continue
		}
		if _, ok := kept[v.GetStart()]; ok {
			maps = append(maps, &vmap{e: v, mapProt: v.GetProt(), viaForce: v.GetProt()&unix.PROT_WRITE == 0, kept: true})
			continue
		}
		vm, err := r.mapVma(v)
		if err != nil {
			return fmt.Errorf("map %#x-%#x: %w", v.GetStart(), v.GetEnd(), err)
		}
		maps = append(maps, vm)
	}
	// 5. Pages: an inherited mapping first loses the parent's pages that
	// the task did not have. Guard regions go in first (installing one
	// zaps what is under it; the images hold no page there).
	if err := r.growTails(maps, kept); err != nil {
		return err
	}
	if err := r.dropInherited(maps); err != nil {
		return err
	}
	if err := r.installGuards(maps); err != nil {
		return err
	}
	r.hugeAdvice(maps)
	if err := r.fillPages(ctx, maps); err != nil {
		return err
	}
	// 6. Final protections and advice.
	for _, vm := range maps {
		v := vm.e
		if vm.mapProt != v.GetProt() {
			if _, err := r.sys("mprotect", unix.SYS_MPROTECT, v.GetStart(), v.GetEnd()-v.GetStart(), uint64(v.GetProt())); err != nil {
				return err
			}
		}
		for adv := 0; adv < 64; adv++ {
			if v.GetMadv()&(1<<adv) == 0 || vm.advised&(1<<adv) != 0 {
				continue
			}
			if _, err := r.sys("madvise", unix.SYS_MADVISE, v.GetStart(), v.GetEnd()-v.GetStart(), uint64(adv)); err != nil {
				return fmt.Errorf("mapping %#x-%#x: advice %d: %w", v.GetStart(), v.GetEnd(), adv, err)
			}
		}
		if v.GetStatus()&image.VmaLockOnFault != 0 {
			if _, err := r.sys("mlock2(MLOCK_ONFAULT)", unix.SYS_MLOCK2, v.GetStart(), v.GetEnd()-v.GetStart(), unix.MLOCK_ONFAULT); err != nil {
				return fmt.Errorf("mapping %#x-%#x: %w", v.GetStart(), v.GetEnd(), err)
			}
		}
	}
	return r.setMM()
}

// hugeAdvice gives the mappings made anew their huge page advice
// (MADV_HUGEPAGE "hg", MADV_NOHUGEPAGE "nh") before their pages are
// filled (vmap.advised). The fill
// then makes what the task's own writes would have made: huge pages
// where the kernel gives them to the mapping on a fault, none where it
// gives none (given after the fill, "hg" came too late for the faults,
// and "nh" to undo the huge pages THP "always" gave). With THP disabled
// for the task (PR_SET_THP_DISABLE, set again after its memory), "hg"
// waits until after the fill: the kernel would give such a task none.
func (r *restorer) hugeAdvice(maps []*vmap) {
	early := uint64(1) << unix.MADV_NOHUGEPAGE
	if !r.img.MM.GetThpDisabled() {
		early |= 1 << unix.MADV_HUGEPAGE
	}
	for _, vm := range maps {
		v := vm.e
		if vm.kept {
			continue // as the parent had it, advice and pages
		}
		for _, adv := range []int{unix.MADV_NOHUGEPAGE, unix.MADV_HUGEPAGE} {
			if v.GetMadv()&early&(1<<adv) == 0 {
				continue
			}
			if _, err := r.sys("madvise", unix.SYS_MADVISE, v.GetStart(), v.GetEnd()-v.GetStart(), uint64(adv)); err != nil {
				// Tried again after the fill, where its error counts.
				continue
			}
			vm.advised |= 1 << adv
		}
	}
}

// installGuards puts back the guard regions of each mapping that had
// some. A mapping that had VM_MAYBE_GUARD ("gu") but no guard left gets
// the flag back by a guard installed on its first page and removed.
func (r *restorer) installGuards(maps []*vmap) error {
	for _, vm := range maps {
		v := vm.e
		if v.GetStatus()&image.VmaGuard == 0 {
			continue
		}
		g := v.GetGuards()
		if len(g)%2 != 0 {
			return fmt.Errorf("%w: mapping %#x-%#x: odd guard list", errdefs.ErrBadImage, v.GetStart(), v.GetEnd())
		}
		if len(g) == 0 && !vm.kept {
			for _, adv := range []uint64{image.MadvGuardInstall, image.MadvGuardRemove} {
				if _, err := r.sys("madvise(GUARD)", unix.SYS_MADVISE, v.GetStart(), mem.PageSize, adv); err != nil {
					return fmt.Errorf("mapping %#x-%#x: %w", v.GetStart(), v.GetEnd(), err)
				}
			}
		}
		for i := 0; i < len(g); i += 2 {
			if g[i] < v.GetStart() || g[i+1] > v.GetEnd() || g[i] >= g[i+1] {
				return fmt.Errorf("%w: mapping %#x-%#x: guard %#x-%#x outside it", errdefs.ErrBadImage, v.GetStart(), v.GetEnd(), g[i], g[i+1])
			}
			if _, err := r.sys("madvise(GUARD_INSTALL)", unix.SYS_MADVISE, g[i], g[i+1]-g[i], image.MadvGuardInstall); err != nil {
				return fmt.Errorf("mapping %#x-%#x: guard %#x-%#x: %w", v.GetStart(), v.GetEnd(), g[i], g[i+1], err)
			}
		}
	}
	return nil
}

// finishMemory seals the mappings that were sealed (mseal) and sets the
// process-wide memory prctls (MDWE, KSM merging of every mapping), once
// the task's children have been forked: a child that inherited a sealed
// mapping it does not have could not unmap it, and one that inherited
// MDWE could not map its own code.
func (r *restorer) finishMemory() error {
	for _, ring := range r.img.MM.GetAios() {
		if err := aio.Restore(r.t, r.t.Scratch(), ring); err != nil {
			return err
		}
	}
	for _, v := range r.img.MM.GetVmas() {
		if v.GetStatus()&image.VmaSealed != 0 {
			if _, err := r.sys("mseal", unix.SYS_MSEAL, v.GetStart(), v.GetEnd()-v.GetStart(), 0); err != nil {
				return fmt.Errorf("mapping %#x-%#x: %w", v.GetStart(), v.GetEnd(), err)
			}
		}
	}
	mm := r.img.MM
	if mm.GetMemoryMerge() {
		if _, err := r.sys("prctl(PR_SET_MEMORY_MERGE)", unix.SYS_PRCTL, unix.PR_SET_MEMORY_MERGE, 1, 0, 0, 0); err != nil {
			return err
		}
	}
	if m := mm.GetMdwe(); m != 0 {
		if _, err := r.sys("prctl(PR_SET_MDWE)", unix.SYS_PRCTL, unix.PR_SET_MDWE, uint64(m), 0, 0, 0); err != nil {
			return err
		}
	}
	return nil
}

// mapVma creates one mapping at its dumped address.
func (r *restorer) mapVma(v *images.VmaEntry) (*vmap, error) {
	st := v.GetStatus()
	prot := v.GetProt()
	flags := uint64(v.GetFlags()) | unix.MAP_FIXED
	vm := &vmap{e: v, mapProt: prot}
	writable := prot&unix.PROT_WRITE != 0
	switch {
	case st&image.VmaAnonShared != 0:
		// Shared memory is filled writable and then protected.
		vm.mapProt = prot | unix.PROT_READ | unix.PROT_WRITE
	case st&image.VmaAccount != 0:
		// Mapping it writable is what gives it VM_ACCOUNT, as it had.
		vm.mapProt = prot | unix.PROT_READ | unix.PROT_WRITE
	case !writable:
		vm.viaForce = true
	}
	length := v.GetEnd() - v.GetStart()
	if st&image.VmaAreaSysvipc != 0 {
		vm.viaForce = false
		var err error
		vm.mapProt, err = r.t.AttachSysv(v)
		return vm, err
	}
	if st&image.VmaAnonShared != 0 {
		// One object for every task that shares it.
		if ok, err := r.t.MapShared(v, vm.mapProt); ok {
			return vm, err
		}
	}
	if st&image.VmaAreaAioring != 0 {
		// A private area holds the dumped ring until finishMemory
		// makes the context anew and moves its ring here (package aio).
		flags = flags&^unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_ANONYMOUS
	}
	if st&(image.VmaFilePrivate|image.VmaFileShared|image.VmaAreaSocket) == 0 {
		flags |= unix.MAP_ANONYMOUS
		_, err := r.sys("mmap", unix.SYS_MMAP, v.GetStart(), length, uint64(vm.mapProt), flags, ^uint64(0), 0)
		return vm, err
	}
	oflags := uint64(v.GetFdflags()) | unix.O_CLOEXEC
	var fd uint64
	if st&(image.VmaAreaMemfd|image.VmaAreaSocket) != 0 {
		var err error
		if fd, err = r.t.OpenMemfd(uint32(v.GetShmid()), oflags); err != nil {
			return nil, err
		}
	} else {
		path, err := r.t.FilePath(uint32(v.GetShmid()))
		if err != nil {
			return nil, err
		}
		p, err := r.t.CString(0, path)
		if err != nil {
			return nil, err
		}
		if fd, err = r.sys("openat "+path, unix.SYS_OPENAT, atFdcwd, p, oflags, 0); err != nil {
			return nil, err
		}
	}
	defer r.sys("close", unix.SYS_CLOSE, fd)
	_, err := r.sys("mmap", unix.SYS_MMAP, v.GetStart(), length, uint64(vm.mapProt), flags&^unix.MAP_ANONYMOUS, fd, v.GetPgoff())
	return vm, err
}

// fillChunk bounds the bytes read from pages-N.img per batch.
const fillChunk = pageio.ChunkSize

// fillPages copies pages-N.img into the mappings. A local image is
// mapped into this process (pageio.MapImage) and copied from the page
// cache straight into the task; a remote one is read ahead into buffers
// by a reader goroutine. Whole batches of plain runs are written with
// process_vm_writev by one writer a core (pageio.Writers): the kernel
// faults in the task's fresh pages as it copies, without a trap per
// page, as MADV_POPULATE_WRITE does, but on every core at once (measured
// here, populating in the task first, on one core, and then copying
// took longer). Mappings that may not be written go through
// /proc/PID/mem; pages the task may share with its parent are compared
// first.
func (r *restorer) fillPages(ctx context.Context, maps []*vmap) error {
	// Pages left in the parent images (PE_PARENT) come last (parent.go),
	// but for those left as inherited.
	present, fromParent := pagemap.Split(r.img.Pagemap)
	fromParent = r.skipInheritedParent(maps, fromParent)
	if len(present) == 0 {
		return r.fillFromParent(ctx, maps, fromParent)
	}
	find := func(addr uint64) *vmap {
		i := sort.Search(len(maps), func(i int) bool { return maps[i].e.GetEnd() > addr })
		if i < len(maps) && maps[i].e.GetStart() <= addr {
			return maps[i]
		}
		return nil
	}
	name := fmt.Sprintf("pages-%d.img", r.img.PagesID)
	rd, err := r.store.Open(ctx, name)
	if err != nil {
		return err
	}
	defer rd.Close()
	var mf *mem.File
	defer func() {
		if mf != nil {
			mf.Close()
		}
	}()
	// Split entries at mapping boundaries and chunk size.
	// skip: pages left as the task inherited them from its parent.
	type run struct {
		mem.Range
		vm   *vmap
		skip bool
	}
	var runs []run
	// CRIU saves the vdso's pages; the vdso stays this kernel's (moved
	// to its dumped place above), so they are read past.
	special := specialVmas(r.img.MM.GetVmas())
	for _, e := range present {
		start, end := e.GetVaddr(), e.GetVaddr()+image.NrPages(e)*mem.PageSize
		for start < end {
			vm, skip := find(start), false
			if vm == nil {
				if vm = findVma(special, start); vm == nil {
					return fmt.Errorf("%w: pages at %#x outside every mapping", errdefs.ErrBadImage, start)
				}
				skip = true
			}
			stop := min(end, vm.e.GetEnd(), start+fillChunk)
			runs = append(runs, run{mem.Range{Start: start, End: stop}, vm, skip || vm.kept && e.GetFlags()&image.PeCow != 0})
			start = stop
		}
	}
	// Batches: consecutive runs fitting in a buffer.
	type batch struct {
		i, j int
		size uint64
		buf  []byte
		err  error
	}
	var batches []batch
	for i := 0; i < len(runs); {
		j, size := i, uint64(0)
		for j < len(runs) && size+runs[j].Len() <= fillChunk {
			size += runs[j].Len()
			j++
		}
		batches = append(batches, batch{i: i, j: j, size: size})
		i = j
	}
	// The pages come from the image file mapped into this process (a
	// local image: no read in between), or else from a reader that reads
	// ahead into buffers while the task's memory is written.
	var most, size uint64
	for _, bt := range batches {
		most = max(most, bt.size)
		size += bt.size
	}
	mapped, isMapped, err := pageio.MapImage(rd, size)
	if err != nil {
		return err
	}
	defer mapped.Close() // after the writers are done with it (below)
	par := pageio.Parallel()
	nbuf := 0
	if !isMapped {
		nbuf = min(par+1, len(batches))
	}
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- pageio.GetBuf(most)
	}
	defer func() {
		for len(free) > 0 {
			pageio.PutBuf(<-free)
		}
	}()
	full := make(chan batch, 1)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	defer func() {
		close(stop)
		<-readerDone // rd is closed only after the reader is done with it
	}()
	go func() {
		defer close(readerDone)
		defer close(full)
		off := uint64(0)
		for _, bt := range batches {
			if isMapped {
				bt.buf = mapped.Bytes(off, bt.size)
				off += bt.size
			} else {
				var buf []byte
				select {
				case buf = <-free:
				case <-stop:
					return
				}
				bt.buf = buf[:bt.size]
				if _, err := io.ReadFull(rd, bt.buf); err != nil {
					bt.err = fmt.Errorf("read %s: %w", name, err)
				}
			}
			select {
			case full <- bt:
			case <-stop:
				return
			}
			if bt.err != nil {
				return
			}
		}
	}()
	// Whole batches of plain runs are written on several goroutines at
	// once (pageio.Writers); the others here, run by run. Where the
	// kernel gives base pages, UFFDIO_COPY makes them (mem.Filler).
	var plainBytes uint64
	for _, ru := range runs {
		if !ru.skip && !ru.vm.kept && !ru.vm.viaForce {
			plainBytes += ru.Len()
		}
	}
	fl := r.filler(maps, plainBytes)
	defer fl.Close()
	wr := pageio.NewWriters(par, func(rs []mem.Range, b []byte) error { return fl.Write(r.pid, rs, b) })
	waited := false
	defer func() {
		if !waited {
			wr.Wait()
		}
	}()
	for bt := range full {
		if bt.err != nil {
			return bt.err
		}
		if ctx.Err() != nil { // a mapped image is not read: no read sees it
			return fmt.Errorf("restore pages of %s: %w", name, context.Cause(ctx))
		}
		b := bt.buf
		giveBack := func() {
			if !isMapped {
				free <- b[:cap(b)]
			}
		}
		// plain: every run is written whole with process_vm_writev.
		plain := true
		for _, ru := range runs[bt.i:bt.j] {
			plain = plain && !ru.skip && !ru.vm.kept && !ru.vm.viaForce
		}
		if plain {
			rs := make([]mem.Range, 0, bt.j-bt.i)
			for _, ru := range runs[bt.i:bt.j] {
				rs = append(rs, ru.Range)
			}
			wr.Write(rs, b, giveBack)
			r.stats.PagesRestored += bt.size / mem.PageSize
			continue
		}
		var direct []mem.Range
		var gathered []byte
		off := uint64(0)
		var skipped uint64
		for _, ru := range runs[bt.i:bt.j] {
			src := b[off : off+ru.Len()]
			off += ru.Len()
			if ru.skip {
				skipped += ru.Len()
				continue
			}
			parts := []mem.Range{ru.Range}
			if ru.vm.kept {
				// A page the task inherited with these very bytes
				// stays shared: the fallback for pages without PeCow
				// (PFNs hidden at dump, or another dumper's images).
				if mf == nil {
					if mf, err = mem.OpenFile(r.pid); err != nil {
						return err
					}
				}
				var same uint64
				if parts, same, err = mf.Differing(ru.Range, src); err != nil {
					return err
				}
				skipped += same
				r.stats.PagesCompared += ru.Len() / mem.PageSize
			}
			for _, pt := range parts {
				pb := src[pt.Start-ru.Start : pt.End-ru.Start]
				if ru.vm.viaForce {
					if mf == nil {
						if mf, err = mem.OpenFile(r.pid); err != nil {
							return err
						}
					}
					if err := mf.WriteAt(pb, pt.Start); err != nil {
						return err
					}
					continue
				}
				direct = append(direct, pt)
				gathered = append(gathered, pb...)
			}
		}
		if len(direct) > 0 {
			if err := fl.Write(r.pid, direct, gathered); err != nil {
				return err
			}
		}
		r.stats.PagesRestored += (bt.size - skipped) / mem.PageSize
		r.stats.PagesSkippedCow += skipped / mem.PageSize
		giveBack()
	}
	waited = true
	if err := wr.Wait(); err != nil {
		return err
	}
	if err := fl.Close(); err != nil { // before the parent's pages, written as before
		return err
	}
	return r.fillFromParent(ctx, maps, fromParent)
}

// fillerMin is the least of plain pages for which the fill uses a
// userfaultfd: its set-up (two injected syscalls, a register and an
// unregister a mapping) costs more than it saves below it.
const fillerMin = 16 << 20

// filler makes a mem.Filler for the mappings of maps whose pages the fill
// writes all of (private anonymous, made anew, neither locked nor
// droppable) and in which the kernel gives no huge page on a fault
// (UFFDIO_COPY makes base pages); nil, and the pages are written with
// process_vm_writev, when that is under fillerMin or the task cannot
// make a userfaultfd.
func (r *restorer) filler(maps []*vmap, plain uint64) *mem.Filler {
	if plain < fillerMin {
		return nil
	}
	var regs []mem.Range
	noThp := r.img.MM.GetThpDisabled()
	for _, vm := range maps {
		v := vm.e
		st, madv := v.GetStatus(), v.GetMadv()
		if vm.kept || vm.viaForce || st&image.VmaAnonPrivate == 0 ||
			st&(image.VmaFilePrivate|image.VmaFileShared|image.VmaAreaVdso|image.VmaAreaVvar|image.VmaAreaAioring|image.VmaAreaSysvipc|image.VmaAnonShared) != 0 ||
			v.GetFlags()&(unix.MAP_HUGETLB|unix.MAP_DROPPABLE|unix.MAP_LOCKED|unix.MAP_SHARED) != 0 {
			continue
		}
		if !noThp && madv&(1<<unix.MADV_NOHUGEPAGE) == 0 && pageio.HugeOnFault(madv&(1<<unix.MADV_HUGEPAGE) != 0) {
			continue
		}
		regs = append(regs, mem.Range{Start: v.GetStart(), End: v.GetEnd()})
	}
	if len(regs) == 0 {
		return nil
	}
	f, err := mem.OpenFiller(r.pid, r.sys)
	if err != nil {
		r.log.Debug().Err(err).Msg("no userfaultfd for the fill: process_vm_writev")
		return nil
	}
	n := 0
	for _, g := range regs {
		if f.Register(g) {
			n++
		}
	}
	r.log.Debug().Int("mappings", n).Int("of", len(regs)).Msg("fill through userfaultfd")
	return f
}

// setMM sets the mm fields (code, data, brk, stack, args, env, auxv) in
// one PR_SET_MM_MAP. exe_fd stays -1 when the task already runs the dumped
// executable (the root, made from a stub of it, but in a container, whose
// stub ran it from outside the container's mounts); a task cloned from another
// task's stub gets the dumped executable, opened inside it, as exe_fd. The
// old executable is no longer mapped by then (setting it fails with EBUSY
// while it is), unless the dumped mappings map it too.
func (r *restorer) setMM() error {
	mm := r.img.MM
	exeFd := uint64(linux.NoExeFd)
	exePath, err := r.t.FilePath(mm.GetExeFileId())
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(procfs.Path(r.pid, "exe")); err != nil {
		return fmt.Errorf("read exe link: %w", err)
	} else if strings.TrimSuffix(cur, " (deleted)") != exePath || r.t.ExeElsewhere(exePath) {
		p, err := r.t.CString(2048, exePath)
		if err != nil {
			return err
		}
		fd, err := r.sys("openat exe "+exePath, unix.SYS_OPENAT, atFdcwd, p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer r.sys("close", unix.SYS_CLOSE, fd)
		exeFd = fd
	}
	auxv := mm.GetMmSavedAuxv()
	m := linux.PrctlMMMap{
		StartCode: mm.GetMmStartCode(), EndCode: mm.GetMmEndCode(), StartData: mm.GetMmStartData(), EndData: mm.GetMmEndData(),
		StartBrk: mm.GetMmStartBrk(), Brk: mm.GetMmBrk(), StartStack: mm.GetMmStartStack(), ArgStart: mm.GetMmArgStart(), ArgEnd: mm.GetMmArgEnd(),
		EnvStart: mm.GetMmEnvStart(), EnvEnd: mm.GetMmEnvEnd(),
		Auxv: r.scr + 1024, AuxvSize: uint32(len(auxv) * 8), ExeFd: uint32(exeFd),
	}
	ab := make([]byte, len(auxv)*8)
	for i, v := range auxv {
		binary.LittleEndian.PutUint64(ab[i*8:], v)
	}
	if err := r.t.WriteScratch(0, m.Bytes()); err != nil {
		return err
	}
	if len(ab) > 0 {
		if err := r.t.WriteScratch(1024, ab); err != nil {
			return err
		}
	}
	_, err = r.sys("prctl(PR_SET_MM_MAP)", unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP, r.scr, linux.PrctlMMMapSize)
	if errors.Is(err, unix.EBUSY) && exeFd != linux.NoExeFd {
		// The dumped mappings still map the stub's executable: keep it.
		r.log.Warn().Str("exe", exePath).Msg("exe link not restored: old executable still mapped")
		m.ExeFd = linux.NoExeFd
		if err := r.t.WriteScratch(0, m.Bytes()); err != nil {
			return err
		}
		_, err = r.sys("prctl(PR_SET_MM_MAP)", unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP, r.scr, linux.PrctlMMMapSize)
	}
	return err
}

var _ [ScratchSize - aio.ScratchNeed]struct{} // the AIO restore fits in the scratch area
