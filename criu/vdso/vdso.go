package vdso

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Task is the restored task the mappings move in: system calls are
// injected at SyscallIP, inside its [vdso], which moves with it.
type Task interface {
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	SyscallIP() uint64
	SetSyscallIP(ip uint64)
}

func special(path string) bool { return path == "[vdso]" || strings.HasPrefix(path, "[vvar") }

// Move moves the vdso and vvar mappings of task pid to the places of
// the dumped VMAs vmas (VMA_AREA_VDSO and VMA_AREA_VVAR), and returns
// those places: they stay when the rest of the address space goes.
func Move(t Task, pid int, vmas []*images.VmaEntry) ([]mem.Range, error) {
	cur, err := procfs.ReadMaps(pid)
	if err != nil {
		return nil, err
	}
	var curSpecial []procfs.Mapping
	for _, m := range cur {
		if special(m.Path) {
			curSpecial = append(curSpecial, m)
		}
	}
	var dumped []*images.VmaEntry
	var keep []mem.Range
	for _, v := range vmas {
		if v.GetStatus()&(image.VmaAreaVdso|image.VmaAreaVvar) != 0 {
			dumped = append(dumped, v)
			keep = append(keep, mem.Range{Start: v.GetStart(), End: v.GetEnd()})
		}
	}
	if len(dumped) == 0 {
		return outOfWay(t, curSpecial, vmas)
	}
	targets, err := Targets(curSpecial, dumped)
	if err != nil {
		return nil, err
	}
	if len(curSpecial) == 0 || curSpecial[0].Start == targets[0] {
		return keep, nil
	}
	// Two steps through a spot that overlaps neither layout.
	base := curSpecial[0].Start
	span := curSpecial[len(curSpecial)-1].End - base
	var tmp uint64
	for _, cand := range []uint64{0x100000000000, 0x200000000000, 0x300000000000, 0x400000000000} {
		r := mem.Range{Start: cand, End: cand + span}
		ok := true
		for _, m := range curSpecial {
			ok = ok && !overlaps(r, mem.Range{Start: m.Start, End: m.End})
		}
		for _, k := range keep {
			ok = ok && !overlaps(r, k)
		}
		if ok {
			tmp = cand
			break
		}
	}
	step := func(to func(i int, m procfs.Mapping) uint64) error {
		ip := t.SyscallIP()
		for i, m := range curSpecial {
			dst := to(i, m)
			if _, err := t.Sys("mremap", unix.SYS_MREMAP, m.Start, m.Len(), m.Len(), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, dst); err != nil {
				return err
			}
			if m.Path == "[vdso]" {
				ip = t.SyscallIP() - m.Start + dst
			}
			curSpecial[i].Start, curSpecial[i].End = dst, dst+m.Len()
		}
		t.SetSyscallIP(ip)
		return nil
	}
	if err := step(func(_ int, m procfs.Mapping) uint64 { return tmp + (m.Start - base) }); err != nil {
		return nil, err
	}
	if err := step(func(i int, _ procfs.Mapping) uint64 { return targets[i] }); err != nil {
		return nil, err
	}
	return keep, nil
}

// outOfWay handles a task dumped without vdso and vvar (it had unmapped
// them): the new task's stay until the end of its restore, since
// injected calls run in its vdso, and Drop unmaps them then. Until then
// they must be where no dumped mapping goes: if they are in the way of
// one, they move, all together, to a place free of both. It returns
// where they are.
func outOfWay(t Task, cur []procfs.Mapping, vmas []*images.VmaEntry) ([]mem.Range, error) {
	if len(cur) == 0 {
		return nil, nil
	}
	var all []mem.Range
	for _, v := range vmas {
		all = append(all, mem.Range{Start: v.GetStart(), End: v.GetEnd()})
	}
	free := func(r mem.Range) bool {
		for _, a := range all {
			if overlaps(r, a) {
				return false
			}
		}
		return true
	}
	base := cur[0].Start
	span := cur[len(cur)-1].End - base
	if !free(mem.Range{Start: base, End: base + span}) {
		var to uint64
		for _, cand := range []uint64{0x100000000000, 0x200000000000, 0x300000000000, 0x400000000000} {
			r := mem.Range{Start: cand, End: cand + span}
			if free(r) && !overlaps(r, mem.Range{Start: base, End: base + span}) {
				to = cand
				break
			}
		}
		if to == 0 {
			return nil, fmt.Errorf("no place free of the dumped mappings to keep the vdso in until the restore ends")
		}
		for i, m := range cur {
			dst := to + (m.Start - base)
			if _, err := t.Sys("mremap", unix.SYS_MREMAP, m.Start, m.Len(), m.Len(), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, dst); err != nil {
				return nil, err
			}
			if m.Path == "[vdso]" { // the next call runs there
				t.SetSyscallIP(t.SyscallIP() - m.Start + dst)
			}
			cur[i].Start, cur[i].End = dst, dst+m.Len()
		}
	}
	var keep []mem.Range
	for _, m := range cur {
		keep = append(keep, mem.Range{Start: m.Start, End: m.End})
	}
	return keep, nil
}

// Drop unmaps the vdso and vvar mappings of task pid when the dumped
// VMAs vmas have none (outOfWay kept them so far): the last injected
// calls of its restore, the vdso, which holds SyscallIP, after the vvar.
// Each call stops at its exit, so unmapping the page of the syscall
// instruction runs nothing there; no call may be injected after.
func Drop(t Task, pid int, vmas []*images.VmaEntry) error {
	for _, v := range vmas {
		if v.GetStatus()&(image.VmaAreaVdso|image.VmaAreaVvar) != 0 {
			return nil
		}
	}
	cur, err := procfs.ReadMaps(pid)
	if err != nil {
		return err
	}
	var vdso []procfs.Mapping
	for _, m := range cur {
		switch {
		case m.Path == "[vdso]":
			vdso = append(vdso, m)
		case special(m.Path):
			if _, err := t.Sys("munmap "+m.Path, unix.SYS_MUNMAP, m.Start, m.Len()); err != nil {
				return err
			}
		}
	}
	for _, m := range vdso {
		if _, err := t.Sys("munmap [vdso]", unix.SYS_MUNMAP, m.Start, m.Len()); err != nil {
			return err
		}
	}
	return nil
}

func overlaps(a, b mem.Range) bool { return a.Start < b.End && b.Start < a.End }

// area is a run of adjacent kernel special mappings of one kind: the
// vdso, or the vvar pages. Kernels since 6.x split the vvar into [vvar]
// and [vvar_vclock]; CRIU 4.2 records the run as one VVAR entry.
type area struct {
	start, end uint64
	vvar       bool
}

func addArea(as []area, start, end uint64, vvar bool) []area {
	if k := len(as); k > 0 && vvar && as[k-1].vvar && as[k-1].end == start {
		as[k-1].end = end
		return as
	}
	return append(as, area{start: start, end: end, vvar: vvar})
}

// Targets gives, for each of the new task's vdso and vvar mappings (in
// address order), the address it moves to so that the areas are where
// the dumped VMAs say. The areas of each kind (vdso, vvar) must match in
// number and size, in address order within the kind: the two kinds may
// have swapped places (a task that moved its vdso with mremap). Anything
// else is another kernel's layout.
func Targets(cur []procfs.Mapping, dumped []*images.VmaEntry) ([]uint64, error) {
	var ca, da []area
	var curArea []int // the area of each current mapping
	for _, m := range cur {
		ca = addArea(ca, m.Start, m.End, strings.HasPrefix(m.Path, "[vvar"))
		curArea = append(curArea, len(ca)-1)
	}
	for _, v := range dumped {
		da = addArea(da, v.GetStart(), v.GetEnd(), v.GetStatus()&image.VmaAreaVvar != 0)
	}
	if len(ca) != len(da) {
		return nil, fmt.Errorf("%w: %d vdso/vvar areas dumped, %d here (another kernel?)", errdefs.ErrUnsupported, len(da), len(ca))
	}
	// match[i]: the dumped area current area i becomes, the k-th of its
	// kind to the k-th.
	match := make([]int, len(ca))
	for _, vvar := range []bool{false, true} {
		var c, d []int
		for i := range ca {
			if ca[i].vvar == vvar {
				c = append(c, i)
			}
			if da[i].vvar == vvar {
				d = append(d, i)
			}
		}
		if len(c) != len(d) {
			return nil, fmt.Errorf("%w: %d %s areas dumped, %d here (another kernel?)", errdefs.ErrUnsupported, len(d), kindName(vvar), len(c))
		}
		for k := range c {
			i, j := c[k], d[k]
			if ca[i].end-ca[i].start != da[j].end-da[j].start {
				return nil, fmt.Errorf("%w: %s area %d is %d bytes here, dumped %d (another kernel?)", errdefs.ErrUnsupported, kindName(vvar), k, ca[i].end-ca[i].start, da[j].end-da[j].start)
			}
			match[i] = j
		}
	}
	to := make([]uint64, len(cur))
	for i, m := range cur {
		a := curArea[i]
		to[i] = da[match[a]].start + (m.Start - ca[a].start)
	}
	return to, nil
}

func kindName(vvar bool) string {
	if vvar {
		return "vvar"
	}
	return "vdso"
}

// ownAreas are criu's own vdso and vvar areas, read once: nothing in
// criu moves them. They come from maps, not smaps: for smaps the kernel
// walks the page tables of every mapping of the Go runtime, 0.5-0.7 ms
// here. Warm reads them before a freeze.
var ownAreas = sync.OnceValues(func() ([]procfs.Mapping, error) {
	self, err := procfs.ReadMaps(os.Getpid())
	if err != nil {
		return nil, err
	}
	var cur []procfs.Mapping
	for _, m := range self {
		if special(m.Path) {
			cur = append(cur, m)
		}
	}
	return cur, nil
})

// Warm reads criu's own vdso and vvar areas (CheckDump's), so that a
// dump does it before it freezes the tree, not in the frozen time.
func Warm() error {
	_, err := ownAreas()
	return err
}

// CheckDump tells, at dump, whether a restore on this kernel can put the
// vdso and vvar areas where the dumped vmas have them: criu's own
// areas are what a new task gets here. A layout this kernel does not
// make is refused while the tree still runs, not found out at restore;
// a task that unmapped its vdso and vvar gets none (Drop).
func CheckDump(vmas []*images.VmaEntry) error {
	cur, err := ownAreas()
	if err != nil {
		return err
	}
	var dumped []*images.VmaEntry
	for _, v := range vmas {
		if v.GetStatus()&(image.VmaAreaVdso|image.VmaAreaVvar) != 0 {
			dumped = append(dumped, v)
		}
	}
	if len(dumped) == 0 {
		return nil // unmapped by the task: so restored (Drop)
	}
	if _, err := Targets(cur, dumped); err != nil {
		return fmt.Errorf("vdso and vvar: %w", err)
	}
	return nil
}
