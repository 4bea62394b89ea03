package restore

import (
	"fmt"
	"maps"
	"slices"
)

// makeDeadPids makes a helper of each pid of an exited task whose /proc
// files (REMAP_TYPE_PROCFS) are opened by path while it lives, as CRIU
// 4.2: a child of the root's stub, made before any file is opened, that
// exits once all are (finishDead), sending no SIGCHLD.
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
