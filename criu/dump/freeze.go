package dump

import (
	"errors"
	"fmt"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
)

// thread is one frozen thread and what must be put back to let it go.
type thread struct {
	tid  int
	vtid int         // as seen inside the tree's pid namespace (ns.go)
	regs ptrace.Regs // as stopped: put back on thaw
	// mask is the blocked signals as found (the image's blk_sigset);
	// each injection puts it back itself (ptrace.Injector).
	mask uint64
}

// freeze seizes and stops every thread of pid, rescanning the task list
// until no new thread appears (a thread can only be created by a running
// thread, and once every known one is stopped, none can be).
func freeze(tr *ptrace.Tracer, pid int) ([]*thread, error) {
	seen := map[int]bool{}
	var out []*thread
	for {
		tids, err := procfs.Tasks(pid)
		if err != nil {
			return out, fmt.Errorf("list threads of %d: %w", pid, err)
		}
		added := false
		for _, tid := range tids {
			if seen[tid] {
				continue
			}
			seen[tid] = true
			if err := tr.Seize(tid, 0); err != nil {
				if errors.Is(err, ptrace.ErrExited) && tid != pid {
					continue
				}
				return out, err
			}
			th := &thread{tid: tid}
			out = append(out, th)
			added = true
			if th.regs, err = tr.GetRegs(tid); err != nil {
				return out, err
			}
			if th.mask, err = tr.GetSigmask(tid); err != nil {
				return out, err
			}
		}
		if !added {
			return out, nil
		}
	}
}

// thaw puts back each thread's registers and detaches it. It
// carries on past errors so that every thread gets its chance.
func thaw(tr *ptrace.Tracer, ths []*thread) error {
	var errs []error
	stop := stopSignal(tr, ths)
	for _, th := range ths {
		if err := tr.SetRegs(th.tid, th.regs); err != nil {
			errs = append(errs, err)
		}
		if err := tr.Detach(th.tid, 0); err != nil {
			errs = append(errs, err)
		}
	}
	if err := restop(ths, stop); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
