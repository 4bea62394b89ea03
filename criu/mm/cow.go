package mm

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/cow"
)

// A dump that lets the tree run on is copy-on-write (package cow): the
// tree is frozen only to take its state and write-protect its private
// anonymous memory; CopyPages writes the pages once it runs. Only for a
// dump with neither parent nor tracking (a VMA has one uffd, and a
// tracker has it: incremental.go), and a task with cowMin of such memory
// at least: a smaller one is read while frozen, which costs less than a
// millisecond or two, and a short-lived task (a shell's subshell) cannot
// fail the dump by exiting before its pages are copied.
const cowMin = 4 << 20

// CopyOnWrite makes this dump's private anonymous pages a copy-on-write
// snapshot, for a dump that lets the tree run on. Call before DumpPages.
func (t *Tree) CopyOnWrite() { t.cowOn = true }

// Deferred says whether some task's pages are left to CopyPages.
func (t *Tree) Deferred() bool { return t.cows.Len() > 0 }

// armCOW is DumpPages for a copy-on-write dump: it arms the snapshot of
// the private anonymous memory on base pages that the kernel does not
// drop by itself, and writes the pagemap. It returns false (and has done
// nothing) when the task gets no snapshot: its pages are then written
// while frozen.
func (d *TaskDump) armCOW(ctx context.Context, p *Pages, l *Layout) (bool, error) {
	var cand, runs []mem.Range
	for _, a := range l.areas {
		if trackable(a) && a.e.GetFlags()&(unix.MAP_HUGETLB|unix.MAP_DROPPABLE) == 0 {
			cand = append(cand, mem.Range{Start: a.m.Start, End: a.m.End})
		}
	}
	for _, r := range p.runs {
		runs = append(runs, r.Range)
	}
	if mem.Pages(mem.Intersect(runs, cand))*mem.PageSize < cowMin {
		return false, nil
	}
	s, err := cow.Arm(d.task, d.pid, cand, runs, d.tree.log)
	if s == nil || err != nil {
		return false, err
	}
	if err := d.writePagemap(ctx, p.ents, p.runs); err != nil {
		s.Stop()
		return false, err
	}
	d.tree.cows.Add(fmt.Sprintf("pages-%d.img", d.pagesID), s)
	return true, nil
}

// CopyPages writes the pages that DumpPages protected, once the tree
// runs again (cow.Set.Write): the snapshot is complete when it returns
// nil; whatever it returns, the tree runs unprotected.
func (t *Tree) CopyPages(ctx context.Context) (DumpStats, error) {
	rd, wr, err := t.cows.Write(ctx, t.store, t.log)
	return DumpStats{MemDump: rd, MemWrite: wr}, err
}
