package restore

import (
	"fmt"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
)

// seccompTask is the restorer as a seccomp.Plan sees the task's leader.
type seccompTask struct{ r *restorer }

func (s seccompTask) Sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	return s.r.sys(name, nr, args...)
}

func (s seccompTask) Injector() seccomp.Injector { return s.r.in }

func (s seccompTask) WriteRemote(addr uint64, b []byte) error {
	return mem.WriteRemote(s.r.pid, []mem.Range{{Start: addr, End: addr + uint64(len(b))}}, b)
}

func (s seccompTask) SuspendSeccomp() error {
	r := s.r
	if err := r.tr.SetOptions(r.pid, ptrace.OptTraceClone|ptrace.OptExitKill|ptrace.OptSuspendSeccomp); err != nil {
		return fmt.Errorf("thread %d: suspend seccomp for the restore: %w", r.pid, err)
	}
	return nil
}

// prepareSeccomp plans the seccomp state of the task's threads
// (seccomp.NewPlan) before they are cloned.
func (r *restorer) prepareSeccomp() (*seccomp.Plan, error) {
	return seccomp.NewPlan(seccompTask{r}, r.vpid, r.sn.pst.GetThreads(), r.sn.cores, r.t.ti.seccomp)
}
