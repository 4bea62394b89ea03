// Package freeze seizes the threads of a task and lets them go as they
// were: their registers, signal masks and stop state (the dump's freeze
// and thaw, per task).
package freeze

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
)

// Thread is one frozen thread and what must be put back to let it go.
type Thread struct {
	Tid  int
	Vtid int         // as seen inside the tree's pid namespace
	Regs ptrace.Regs // as stopped: put back on thaw
	// mask is the blocked signals as found (the image's blk_sigset);
	// each injection puts it back itself (ptrace.Injector).
	Mask uint64
}

// Threads seizes and stops every thread of pid, rescanning the task list
// until no new thread appears (a thread can only be created by a running
// thread, and once every known one is stopped, none can be).
func Threads(tr *ptrace.Tracer, pid int) ([]*Thread, error) {
	seen := map[int]bool{}
	var out []*Thread
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
			th := &Thread{Tid: tid}
			out = append(out, th)
			added = true
			if th.Regs, err = tr.GetRegs(tid); err != nil {
				return out, err
			}
			if th.Mask, err = tr.GetSigmask(tid); err != nil {
				return out, err
			}
			// On the tracer's CPU while frozen (ptrace.Tracer.PinCPU):
			// each injected call then costs a fraction.
			if err := tr.Pin(tid); err != nil {
				return out, err
			}
		}
		if !added {
			return out, nil
		}
	}
}

// Thaw puts back each thread's registers and CPU mask and detaches it. It
// carries on past errors so that every thread gets its chance.
func Thaw(tr *ptrace.Tracer, ths []*Thread) error {
	var errs []error
	stop := StopSignal(tr, ths)
	for _, th := range ths {
		if err := tr.SetRegs(th.Tid, th.Regs); err != nil {
			errs = append(errs, err)
		}
		if err := tr.Unpin(th.Tid); err != nil {
			errs = append(errs, err)
		}
		if err := tr.Detach(th.Tid, 0); err != nil {
			errs = append(errs, err)
		}
	}
	if err := Restop(ths, stop); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// StopSignal is the signal that had stopped the task of threads ths
// (leader first), 0 if it was running: a group-stop is process-wide, so
// any thread found stopped tells.
func StopSignal(tr *ptrace.Tracer, ths []*Thread) syscall.Signal {
	for _, th := range ths {
		if sig := tr.StopSignal(th.Tid); sig != 0 {
			return sig
		}
	}
	return 0
}

// Restop stops the task of ths again with sig (0: it was running) once
// it is detached, as CRIU does: the injections took it out of its
// group-stop (or consumed a SIGSTOP that was pending).
func Restop(ths []*Thread, sig syscall.Signal) error {
	if sig == 0 || len(ths) == 0 {
		return nil
	}
	if err := unix.Kill(ths[0].Tid, sig); err != nil {
		return fmt.Errorf("stop %d again with %v: %w", ths[0].Tid, sig, os.NewSyscallError("kill", err))
	}
	return nil
}
