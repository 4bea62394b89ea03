package restore

import (
	"fmt"
	"maps"
	"slices"

	"github.com/criugo/criu/criu/pstree"
)

// makeDeadPids makes a helper of each pid of an exited task whose /proc
// files (REMAP_TYPE_PROCFS, files.ReadRemaps) are opened by their paths
// while it lives (as CRIU 4.2): a child of the root's stub, made before
// any file is opened, that exits once all are, with exit_signal 0 (the
// root's pending signals are restored by then).
func (t *treeRestorer) makeDeadPids() error {
	for _, pid := range slices.Compact(slices.Sorted(maps.Values(t.ti.dead))) {
		if t.byPid[int(pid)] != nil {
			return fmt.Errorf("%w: a /proc file of task %d, which had exited, but the tree has a task of that pid", ErrBadImage, pid)
		}
		h, err := t.helper(t.nodes[0], int(pid), "the /proc files of the exited task", 0, 0)
		if err != nil {
			return err
		}
		h.deadPid = true
	}
	return nil
}

// finishDeadPids makes those helpers exit, reaped by the root.
func (t *treeRestorer) finishDeadPids() error {
	var dead []pstree.Dead
	for _, n := range t.nodes {
		if n.deadPid {
			dead = append(dead, pstree.Dead{Pid: n.pid, Task: deadTask{handTask{n.r}}, Parent: deadTask{handTask{n.parent.r}}, Helper: true, Quiet: true})
		}
	}
	return pstree.FinishDead(dead)
}
