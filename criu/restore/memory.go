package restore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

func overlaps(a, b mem.Range) bool { return a.Start < b.End && b.Start < a.End }

// vmap is a dumped VMA and how it was mapped.
type vmap struct {
	e        *images.VmaEntry
	mapProt  uint32 // protection at mmap time
	viaForce bool   // fill through /proc/PID/mem
	// kept: the task got this VMA by fork from its restored parent, as
	// it had it at dump (meminherit.go); its pages flagged PeCow are left
	// shared with the parent's.
	kept bool
}

// restoreMemory rebuilds the address space of the new task.
func (r *restorer) restoreMemory(ctx context.Context) error {
	vmas := r.sn.mm.GetVmas()
	// 1. The kernel's special mappings move to their dumped addresses.
	cur, err := procfs.ReadSmaps(r.pid)
	if err != nil {
		return err
	}
	var curSpecial []procfs.Mapping
	for _, m := range cur {
		if m.Path == "[vdso]" || len(m.Path) > 5 && m.Path[:5] == "[vvar" {
			curSpecial = append(curSpecial, m)
		}
	}
	var dumpSpecial []*images.VmaEntry
	var keep []mem.Range
	for _, v := range vmas {
		if v.GetStatus()&(image.VmaAreaVdso|image.VmaAreaVvar) != 0 {
			dumpSpecial = append(dumpSpecial, v)
		}
	}
	if len(dumpSpecial) != len(curSpecial) {
		return fmt.Errorf("%w: %d vdso/vvar mappings dumped, %d here (another kernel?)", ErrUnsupported, len(dumpSpecial), len(curSpecial))
	}
	for i, m := range curSpecial {
		d := dumpSpecial[i]
		if d.GetEnd()-d.GetStart() != m.Len() {
			return fmt.Errorf("%w: vdso/vvar mapping %d is %d bytes, dumped %d (another kernel?)", ErrUnsupported, i, m.Len(), d.GetEnd()-d.GetStart())
		}
		keep = append(keep, mem.Range{Start: d.GetStart(), End: d.GetEnd()})
	}
	if len(curSpecial) > 0 && curSpecial[0].Start != dumpSpecial[0].GetStart() {
		// Two steps through a spot that overlaps neither layout.
		base := curSpecial[0].Start
		span := curSpecial[len(curSpecial)-1].End - base
		var tmp uint64
		for _, cand := range []uint64{0x100000000000, 0x200000000000, 0x300000000000, 0x400000000000} {
			t := mem.Range{Start: cand, End: cand + span}
			ok := true
			for _, m := range curSpecial {
				ok = ok && !overlaps(t, mem.Range{Start: m.Start, End: m.End})
			}
			for _, k := range keep {
				ok = ok && !overlaps(t, k)
			}
			if ok {
				tmp = cand
				break
			}
		}
		vdsoOff := r.in.IP
		for i, m := range curSpecial {
			to := tmp + (m.Start - base)
			if _, err := r.sys("mremap", unix.SYS_MREMAP, m.Start, m.Len(), m.Len(), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, to); err != nil {
				return err
			}
			if m.Path == "[vdso]" {
				vdsoOff = r.in.IP - m.Start + to
			}
			curSpecial[i].Start, curSpecial[i].End = to, to+m.Len()
		}
		r.in.IP = vdsoOff
		for i, m := range curSpecial {
			to := dumpSpecial[i].GetStart()
			if _, err := r.sys("mremap", unix.SYS_MREMAP, m.Start, m.Len(), m.Len(), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, to); err != nil {
				return err
			}
			if m.Path == "[vdso]" {
				vdsoOff = r.in.IP - m.Start + to
			}
		}
		r.in.IP = vdsoOff
	}
	// The private mappings the task got by fork from its restored
	// parent, unchanged since, stay (meminherit.go).
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
		t := mem.Range{Start: cand, End: cand + scratchSize}
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
	if _, err := r.sys("mmap", unix.SYS_MMAP, r.scr, scratchSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED_NOREPLACE, ^uint64(0), 0); err != nil {
		return err
	}
	// 4. Every dumped mapping.
	var maps []*vmap
	for _, v := range vmas {
		st := v.GetStatus()
		if st&(image.VmaAreaVdso|image.VmaAreaVvar|image.VmaAreaVsyscall) != 0 || st&image.VmaAreaRegular == 0 {
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
			if v.GetMadv()&(1<<adv) == 0 {
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
			return fmt.Errorf("%w: mapping %#x-%#x: odd guard list", ErrBadImage, v.GetStart(), v.GetEnd())
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
				return fmt.Errorf("%w: mapping %#x-%#x: guard %#x-%#x outside it", ErrBadImage, v.GetStart(), v.GetEnd(), g[i], g[i+1])
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
	for _, v := range r.sn.mm.GetVmas() {
		if v.GetStatus()&image.VmaSealed != 0 {
			if _, err := r.sys("mseal", unix.SYS_MSEAL, v.GetStart(), v.GetEnd()-v.GetStart(), 0); err != nil {
				return fmt.Errorf("mapping %#x-%#x: %w", v.GetStart(), v.GetEnd(), err)
			}
		}
	}
	mm := r.sn.mm
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
		return vm, r.attachSysv(v, vm)
	}
	if so := r.t.shm[v.GetShmid()]; st&image.VmaAnonShared != 0 && so != nil {
		// One object for every task that shares it.
		return vm, r.mapShared(v, so, vm.mapProt)
	}
	if st&(image.VmaFilePrivate|image.VmaFileShared) == 0 {
		flags |= unix.MAP_ANONYMOUS
		_, err := r.sys("mmap", unix.SYS_MMAP, v.GetStart(), length, uint64(vm.mapProt), flags, ^uint64(0), 0)
		return vm, err
	}
	var path string
	var err error
	if st&image.VmaAreaMemfd != 0 {
		path, err = r.memfdPath(uint32(v.GetShmid()))
	} else {
		path, _, err = r.filePath(uint32(v.GetShmid()))
	}
	if err != nil {
		return nil, err
	}
	p, err := r.cstring(0, path)
	if err != nil {
		return nil, err
	}
	oflags := uint64(v.GetFdflags()) | unix.O_CLOEXEC
	fd, err := r.sys("openat "+path, unix.SYS_OPENAT, atFdcwd, p, oflags, 0)
	if err != nil {
		return nil, err
	}
	defer r.sys("close", unix.SYS_CLOSE, fd)
	_, err = r.sys("mmap", unix.SYS_MMAP, v.GetStart(), length, uint64(vm.mapProt), flags&^unix.MAP_ANONYMOUS, fd, v.GetPgoff())
	return vm, err
}

// fillChunk bounds the bytes read from pages-N.img per batch.
const fillChunk = 32 << 20

// fillPages copies pages-N.img into the mappings. Every run is first
// populated in bulk (MADV_POPULATE_WRITE: fresh pages are expensive when
// faulted one by one in a VM), all before any page is written: measured
// here, populating while the image is being read costs about three times
// as much as populating first. Then each batch is written with one
// process_vm_writev while a reader goroutine reads the next one from the
// image (into page-aligned buffers, so the store can read around the page
// cache). Mappings that may not be written go through /proc/PID/mem.
func (r *restorer) fillPages(ctx context.Context, maps []*vmap) error {
	// Pages left in the parent images (PE_PARENT) come last (parent.go),
	// but for those left as inherited.
	present, fromParent := splitPagemap(r.sn.pagemap)
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
	name := fmt.Sprintf("pages-%d.img", r.sn.pagesID)
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
	for _, e := range present {
		start, end := e.GetVaddr(), e.GetVaddr()+image.NrPages(e)*mem.PageSize
		for start < end {
			vm := find(start)
			if vm == nil {
				return fmt.Errorf("%w: pages at %#x outside every mapping", ErrBadImage, start)
			}
			stop := min(end, vm.e.GetEnd(), start+fillChunk)
			runs = append(runs, run{mem.Range{Start: start, End: stop}, vm, vm.kept && e.GetFlags()&image.PeCow != 0})
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
	// The reader starts right away; it has two buffers to fill while
	// the task's memory is populated.
	full := make(chan batch, 1)
	free := make(chan []byte, 2)
	free <- mem.AlignedBuffer(fillChunk)
	free <- mem.AlignedBuffer(fillChunk)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	defer func() {
		close(stop)
		<-readerDone // rd is closed only after the reader is done with it
	}()
	go func() {
		defer close(readerDone)
		defer close(full)
		for _, bt := range batches {
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
	for _, ru := range runs {
		if ru.vm.viaForce || ru.skip || ru.vm.kept {
			continue // populating a shared page would copy it
		}
		if _, err := r.sys("madvise(POPULATE_WRITE)", unix.SYS_MADVISE, ru.Start, ru.Len(), unix.MADV_POPULATE_WRITE); err != nil {
			return err
		}
	}
	for bt := range full {
		if bt.err != nil {
			return bt.err
		}
		b := bt.buf
		// plain: every run is written whole with process_vm_writev,
		// and b holds their bytes as they are to be written.
		plain := true
		for _, ru := range runs[bt.i:bt.j] {
			plain = plain && !ru.skip && !ru.vm.kept && !ru.vm.viaForce
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
				if parts, same, err = differing(mf, ru.Range, src); err != nil {
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
				if !plain {
					gathered = append(gathered, pb...)
				}
			}
		}
		if plain {
			gathered = b
		}
		if len(direct) > 0 {
			if err := mem.WriteRemote(r.pid, direct, gathered); err != nil {
				return err
			}
		}
		r.stats.PagesRestored += (bt.size - skipped) / mem.PageSize
		r.stats.PagesSkippedCow += skipped / mem.PageSize
		free <- bt.buf[:cap(bt.buf)]
	}
	return r.fillFromParent(ctx, maps, fromParent)
}

// setMM sets the mm fields (code, data, brk, stack, args, env, auxv) in
// one PR_SET_MM_MAP. exe_fd stays -1 when the task already runs the dumped
// executable (the root, made from a stub of it); a task cloned from another
// task's stub gets the dumped executable, opened inside it, as exe_fd. The
// old executable is no longer mapped by then (setting it fails with EBUSY
// while it is), unless the dumped mappings map it too.
func (r *restorer) setMM() error {
	mm := r.sn.mm
	exeFd := uint64(0xffffffff)
	exePath, _, err := r.filePath(mm.GetExeFileId())
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(procfs.Path(r.pid, "exe")); err != nil {
		return fmt.Errorf("read exe link: %w", err)
	} else if strings.TrimSuffix(cur, " (deleted)") != exePath {
		p, err := r.cstring(2048, exePath)
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
	b := make([]byte, 104)
	le := binary.LittleEndian
	vals := []uint64{mm.GetMmStartCode(), mm.GetMmEndCode(), mm.GetMmStartData(), mm.GetMmEndData(),
		mm.GetMmStartBrk(), mm.GetMmBrk(), mm.GetMmStartStack(), mm.GetMmArgStart(), mm.GetMmArgEnd(),
		mm.GetMmEnvStart(), mm.GetMmEnvEnd()}
	for i, v := range vals {
		le.PutUint64(b[i*8:], v)
	}
	auxv := mm.GetMmSavedAuxv()
	auxAddr := r.scr + 1024
	le.PutUint64(b[88:], auxAddr)
	le.PutUint32(b[96:], uint32(len(auxv)*8))
	le.PutUint32(b[100:], uint32(exeFd))
	ab := make([]byte, len(auxv)*8)
	for i, v := range auxv {
		le.PutUint64(ab[i*8:], v)
	}
	if err := r.writeScratch(0, b); err != nil {
		return err
	}
	if len(ab) > 0 {
		if err := r.writeScratch(1024, ab); err != nil {
			return err
		}
	}
	_, err = r.sys("prctl(PR_SET_MM_MAP)", unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP, r.scr, 104)
	if errors.Is(err, unix.EBUSY) && exeFd != 0xffffffff {
		// The dumped mappings still map the stub's executable: keep it.
		r.log.Warn().Str("exe", exePath).Msg("exe link not restored: old executable still mapped")
		le.PutUint32(b[100:], 0xffffffff)
		if err := r.writeScratch(0, b); err != nil {
			return err
		}
		_, err = r.sys("prctl(PR_SET_MM_MAP)", unix.SYS_PRCTL, unix.PR_SET_MM, unix.PR_SET_MM_MAP, r.scr, 104)
	}
	return err
}
