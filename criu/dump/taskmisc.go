package dump

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/criu/task"
	"github.com/criugo/criu/proto/images"
)

// stopSignal is the signal that had stopped the task of threads ths
// (leader first), 0 if it was running: a group-stop is process-wide, so
// any thread found stopped tells.
func stopSignal(tr *ptrace.Tracer, ths []*thread) syscall.Signal {
	for _, th := range ths {
		if sig := tr.StopSignal(th.tid); sig != 0 {
			return sig
		}
	}
	return 0
}

// restop stops the task of ths again with sig (0: it was running) once
// it is detached, as CRIU does: the injections took it out of its
// group-stop (or consumed a SIGSTOP that was pending).
func restop(ths []*thread, sig syscall.Signal) error {
	if sig == 0 || len(ths) == 0 {
		return nil
	}
	if err := unix.Kill(ths[0].tid, sig); err != nil {
		return fmt.Errorf("stop %d again with %v: %w", ths[0].tid, sig, os.NewSyscallError("kill", err))
	}
	return nil
}

// suspendSeccomp lets the injected syscalls of the dump pass the
// seccomp filters (or strict mode) of every thread of pid that has
// them (PTRACE_O_SUSPEND_SECCOMP, until the thread is detached). It is
// called once every thread of the task is stopped, so none can change
// another's filters (TSYNC) any more.
func suspendSeccomp(tr *ptrace.Tracer, pid int, ths []*thread) error {
	for _, th := range ths {
		mode, _, err := seccomp.ThreadMode(pid, th.tid)
		if err != nil {
			return fmt.Errorf("thread %d: %w", th.tid, err)
		}
		if mode == seccomp.ModeDisabled {
			continue
		}
		if err := tr.SetOptions(th.tid, ptrace.OptSuspendSeccomp); err != nil {
			return fmt.Errorf("thread %d: suspend its seccomp mode %d for the dump: %w", th.tid, mode, err)
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
		mode, count, err := seccomp.ThreadMode(d.pid, th.tid)
		if err != nil {
			return err
		}
		s, err := seccomp.ReadThread(d.tr, th.tid, mode, count, ptrace.ErrNoFilter)
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
		tids[i] = th.tid
	}
	return task.RefusePendingTrap(pid, tids)
}
