package dump

import (
	"fmt"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/cgroup"
	"github.com/criugo/criu/proto/images"
)

// newCgroups reads what the tasks' cgroup sets are recorded against
// (criu's own cgroups, the hierarchies: cgroup.NewDumper), before the
// tree is frozen: nothing of it is the tree's. Nil with --manage-cgroups
// ignore.
func newCgroups(opts Options) (*cgroup.Dumper, error) {
	if opts.Cgroup.Mode == cgroup.Ignore {
		return nil, nil
	}
	cg, err := cgroup.NewDumper(opts.Cgroup)
	if err != nil {
		return nil, fmt.Errorf("dump %d: %w", opts.Pid, err)
	}
	return cg, nil
}

// cgroups records the cgroup set of task pid in its threads' cores
// (thread_core.cg_set, as CRIU); tree.writeShared writes cgroup.img.
// Nothing with --manage-cgroups ignore.
func (t *tree) cgroups(pid int, threads []*thread, cores []*images.CoreEntry) error {
	if t.opts.Cgroup.Mode == cgroup.Ignore {
		return nil
	}
	if t.cg == nil {
		cg, err := t.cgNew, error(nil)
		if cg == nil {
			if cg, err = cgroup.NewDumper(t.opts.Cgroup); err != nil {
				return fmt.Errorf("dump %d: %w", pid, err)
			}
		}
		if t.ns.Mask&unix.CLONE_NEWCGROUP != 0 {
			if err := cg.Namespace(t.tasks[0].pid); err != nil {
				return fmt.Errorf("dump %d: %w", pid, err)
			}
		}
		t.cg = cg
	}
	tids := make([]int, len(threads))
	for i, th := range threads {
		tids[i] = th.Tid
	}
	set, err := t.cg.Task(pid, tids)
	if err != nil {
		return fmt.Errorf("dump %d: %w", pid, err)
	}
	for _, c := range cores {
		c.ThreadCore.CgSet = proto.Uint32(set)
	}
	return nil
}
