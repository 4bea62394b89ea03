package mm

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/pagemap"
	"github.com/criugo/criu/proto/images"
)

// Memory shared copy-on-write between a parent and the children it
// forked (nginx's workers, postgres' backends, a pre-forking server)
// stays shared: each task's memory is restored before its children are
// forked (the restorer's create, criu/restore/tree.go), so a child starts with its parent's restored
// mappings and pages, as after the original fork. The child then keeps
// each private mapping it had exactly as its parent had it
// (inheritedVmas), drops the parent's pages it did not have
// (dropInherited), and writes only its pages that were not the parent's:
// the dump flags a page PeCow when parent and child mapped the same
// physical page at the same address (same PFN in /proc/PID/pagemap,
// readable with CAP_SYS_ADMIN), and fillPages leaves those pages as
// inherited. Everything else in the child is unmapped and mapped again
// from its own images, as for the root.
//
// A present page of a kept mapping without PeCow (PFNs were hidden at
// dump, without CAP_SYS_ADMIN, or another dumper wrote the images) is
// compared with what the task inherited, read through /proc/PID/mem,
// and left shared when the bytes are the same, as CRIU restores.
//
// Not kept shared: pages shared with a sibling only (a child is forked
// from its parent, not from its sibling); a stack that grew down since
// the fork (its start moved); a private file mapping that grew; and a
// page left in the parent images (pre-dump) without PeCow, which is
// written from there.

// inheritable is the VMA status a mapping must have to be kept.
const inheritable = image.VmaAnonPrivate | image.VmaFilePrivate

// noInherit are the madvise bits that fork does not pass on as they
// were: MADV_DONTFORK leaves the mapping out of the child, and
// MADV_WIPEONFORK gives the child an empty one.
const noInherit = 1<<unix.MADV_DONTFORK | 1<<unix.MADV_WIPEONFORK

// inheritedVmas says, by start, which private mappings the task got
// from its parent at its fork and keeps, and up to where: the parent's
// dumped mapping of the same start, kind, file, offset, protection,
// flags and advice, up to the end of the shorter of the two. A heap
// (or any writable private anonymous mapping) that grew since the fork
// keeps the inherited part and gets the rest mapped anew (growTails);
// one that shrank loses what the parent has beyond it. Locked (fork does
// not pass mlock on), droppable, sealed and memfd mappings are mapped
// again instead.
func (r *restorer) inheritedVmas() map[uint64]uint64 {
	if r.inherit == nil {
		return nil
	}
	parent := map[uint64]*images.VmaEntry{}
	for _, v := range r.inherit.GetVmas() {
		parent[v.GetStart()] = v
	}
	out := map[uint64]uint64{}
	for _, v := range r.img.MM.GetVmas() {
		p := parent[v.GetStart()]
		st := v.GetStatus()
		if p == nil || st&inheritable == 0 || st&(image.VmaLockOnFault|image.VmaSealed|image.VmaAreaMemfd|image.VmaAreaVdso|image.VmaAreaVvar|image.VmaAreaVsyscall) != 0 ||
			v.GetFlags()&(unix.MAP_LOCKED|unix.MAP_DROPPABLE|unix.MAP_HUGETLB) != 0 || v.GetMadv()&noInherit != 0 {
			continue
		}
		if p.GetStatus() != st || p.GetFlags() != v.GetFlags() || p.GetProt() != v.GetProt() ||
			p.GetMadv() != v.GetMadv() || p.GetPgoff() != v.GetPgoff() || p.GetShmid() != v.GetShmid() ||
			p.GetFdflags() != v.GetFdflags() || fmt.Sprint(p.GetGuards()) != fmt.Sprint(v.GetGuards()) {
			continue
		}
		end := min(p.GetEnd(), v.GetEnd())
		if end != v.GetEnd() && (st&image.VmaAnonPrivate == 0 || v.GetProt()&unix.PROT_WRITE == 0 ||
			v.GetFlags()&unix.MAP_GROWSDOWN != 0 || len(v.GetGuards()) > 0) {
			continue // only a plain writable anonymous mapping grows
		}
		out[v.GetStart()] = end
	}
	return out
}

// growTails maps the part of each kept mapping beyond what the task
// inherited: fresh anonymous memory with the mapping's protection and
// flags, which the kernel merges into the inherited mapping.
func (r *restorer) growTails(maps []*vmap, kept map[uint64]uint64) error {
	for _, vm := range maps {
		v := vm.e
		end, ok := kept[v.GetStart()]
		if !ok || end == v.GetEnd() {
			continue
		}
		flags := uint64(v.GetFlags()) | unix.MAP_FIXED | unix.MAP_ANONYMOUS
		if _, err := r.sys("mmap", unix.SYS_MMAP, end, v.GetEnd()-end, uint64(v.GetProt()), flags, ^uint64(0), 0); err != nil {
			return fmt.Errorf("mapping %#x-%#x: grow from %#x: %w", v.GetStart(), v.GetEnd(), end, err)
		}
	}
	return nil
}

// dropInherited zaps, in each kept mapping, the private pages the task
// has now (its parent's) that its images do not hold: a private
// anonymous page it never had reads as zeros again, and a private file
// page as the file's.
func (r *restorer) dropInherited(maps []*vmap) error {
	var has []mem.Range
	for _, e := range r.img.Pagemap {
		has = append(has, pagemap.Range(e))
	}
	has = mem.Merge(has)
	var pm *mem.Pagemap
	defer func() {
		if pm != nil {
			pm.Close()
		}
	}()
	for _, vm := range maps {
		if !vm.kept {
			continue
		}
		if pm == nil {
			var err error
			if pm, err = mem.OpenPagemap(r.pid); err != nil {
				return err
			}
		}
		rg := mem.Range{Start: vm.e.GetStart(), End: vm.e.GetEnd()}
		ents, err := pm.Read(rg)
		if err != nil {
			return err
		}
		now := mem.Runs(rg.Start, ents, mem.PrivatePage)
		for _, z := range mem.Subtract(now, has) {
			if _, err := r.sys("madvise(DONTNEED)", unix.SYS_MADVISE, z.Start, z.Len(), unix.MADV_DONTNEED); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipInheritedParent takes out of want (pages to fill from the parent
// images) those flagged PeCow in a kept mapping: they stay as inherited.
func (r *restorer) skipInheritedParent(maps []*vmap, want []mem.Range) []mem.Range {
	var cow, kept []mem.Range
	for _, e := range r.img.Pagemap {
		if pagemap.InParent(e) && e.GetFlags()&image.PeCow != 0 {
			cow = append(cow, pagemap.Range(e))
		}
	}
	for _, vm := range maps {
		if vm.kept {
			kept = append(kept, mem.Range{Start: vm.e.GetStart(), End: vm.e.GetEnd()})
		}
	}
	if len(cow) == 0 || len(kept) == 0 {
		return want
	}
	skip := mem.Intersect(mem.Merge(cow), mem.Merge(kept))
	r.stats.PagesSkippedCow += mem.Pages(mem.Intersect(want, skip))
	return mem.Subtract(want, skip)
}
