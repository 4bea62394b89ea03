package dump

import (
	"fmt"

	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/criu/task"
	"github.com/criugo/criu/proto/images"
)

// suspendSeccomp lets the injected syscalls of the dump pass the
// seccomp filters (or strict mode) of every thread of pid that has
// them (PTRACE_O_SUSPEND_SECCOMP, until the thread is detached). It is
// called once every thread of the task is stopped, so none can change
// another's filters (TSYNC) any more.
func suspendSeccomp(tr *ptrace.Tracer, pid int, ths []*thread) error {
	for _, th := range ths {
		mode, _, err := seccomp.ThreadMode(pid, th.Tid)
		if err != nil {
			return fmt.Errorf("thread %d: %w", th.Tid, err)
		}
		if mode == seccomp.ModeDisabled {
			continue
		}
		if err := tr.SetOptions(th.Tid, ptrace.OptSuspendSeccomp); err != nil {
			return fmt.Errorf("thread %d: suspend its seccomp mode %d for the dump: %w", th.Tid, mode, err)
		}
	}
	return nil
}

// dumpSeccomp saves the seccomp mode and filters of d's threads into
// their cores (cores[i] is d.threads[i]'s) and the tree's seccomp table.
func (d *dumper) dumpSeccomp(cores []*images.CoreEntry) error {
	var ths []seccomp.Thread
	var tcs []*images.ThreadCoreEntry
	for i, th := range d.threads {
		mode, count, err := seccomp.ThreadMode(d.pid, th.Tid)
		if err != nil {
			return err
		}
		s, err := seccomp.ReadThread(d.tr, th.Tid, mode, count, ptrace.ErrNoFilter)
		if err != nil {
			return fmt.Errorf("dump %d: %w", d.pid, err)
		}
		ths = append(ths, s)
		tcs = append(tcs, cores[i].GetThreadCore())
	}
	d.t.seccomp.Process(ths, tcs)
	return nil
}

// refusePendingTrap refuses a task with a SIGTRAP pending (task.RefusePendingTrap).
func refusePendingTrap(pid int, ths []*thread) error {
	tids := make([]int, len(ths))
	for i, th := range ths {
		tids[i] = th.Tid
	}
	return task.RefusePendingTrap(pid, tids)
}
