package ptrace

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// Regs mirrors struct user_regs_struct (arch/x86/include/asm/user_64.h).
type Regs = unix.PtraceRegs

// Seize attaches to tid with PTRACE_SEIZE, interrupts it and waits until
// it is in a ptrace-stop. A signal-delivery-stop seen on the way is handed
// back to the thread (its handler frame is set up, as the kernel would have
// done) and the thread is interrupted again, so no signal is lost.
// It returns ErrExited if the thread is gone. For a tid SeizeAsync
// took, it only waits.
func (t *Tracer) Seize(tid int, opts int) error {
	return t.Do(func() error {
		first, early := t.early[tid]
		if t.pending[tid] {
			delete(t.pending, tid)
			delete(t.early, tid)
		} else if err := seizeInterrupt(tid, opts); err != nil {
			return err
		}
		for {
			st, err := first, error(nil)
			if !early {
				st, err = wait(tid)
			}
			early = false
			if err != nil {
				return fmt.Errorf("wait for %d: %w", tid, err)
			}
			switch {
			case st.Exited() || st.Signaled():
				return fmt.Errorf("seize %d: %w", tid, ErrExited)
			case !st.Stopped():
				continue
			case st.Event() == eventStop:
				t.seized[tid] = true
				// A group-stop reports its stop signal, our
				// interrupt SIGTRAP.
				if sig := st.StopSignal(); sig != unix.SIGTRAP {
					t.stopSig[tid] = sig
				}
				return nil
			case st.Event() != 0:
				// Another event: resume and keep waiting for our stop.
				if err := linux.PtraceCont(tid, 0); err != nil {
					return err
				}
			default:
				// Signal-delivery-stop: deliver it, then stop again.
				if err := linux.PtraceCont(tid, int(st.StopSignal())); err != nil {
					return err
				}
				if err := linux.PtraceInterrupt(tid); err != nil {
					return err
				}
			}
		}
	})
}

func seizeInterrupt(tid, opts int) error {
	if err := seize(tid, opts); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("seize %d: %w", tid, ErrExited)
		}
		return fmt.Errorf("seize %d: %w", tid, err)
	}
	if err := linux.PtraceInterrupt(tid); err != nil {
		return fmt.Errorf("interrupt %d: %w", tid, err)
	}
	return nil
}

// SeizeAsync attaches to tid and interrupts it without waiting for its
// stop: a thread of a frozen cgroup stops once the cgroup is thawed,
// before it runs user code. Seize then waits for that stop; what it is
// not called for, ReleasePending lets go.
func (t *Tracer) SeizeAsync(tid int) error {
	return t.Do(func() error {
		if err := seizeInterrupt(tid, 0); err != nil {
			return err
		}
		t.pending[tid] = true
		return nil
	})
}

// PollPending waits up to timeout for the first stop (or exit) of each
// thread SeizeAsync took, without blocking on any one, and returns those
// that did not stop: a vfork parent, for one, waits uninterruptibly for
// its stopped child. Seize takes the stop seen.
func (t *Tracer) PollPending(timeout time.Duration) []int {
	var left []int
	t.Do(func() error {
		for deadline := time.Now().Add(timeout); ; time.Sleep(time.Millisecond) {
			left = left[:0]
			for tid := range t.pending {
				if _, ok := t.early[tid]; ok {
					continue
				}
				var ws unix.WaitStatus
				if got, err := unix.Wait4(tid, &ws, unix.WALL|unix.WNOHANG, nil); err == nil && got == tid {
					t.early[tid] = Status{ws}
				} else if err != nil && err != unix.EINTR {
					t.early[tid] = Status{unix.WaitStatus(0x7f00 | 9)} // gone: as killed
				} else {
					left = append(left, tid)
				}
			}
			if len(left) == 0 || time.Now().After(deadline) {
				return nil
			}
		}
	})
	return left
}

// ReleasePending detaches each thread SeizeAsync took that Seize did
// not, as each stops: those stopped first, so that a vfork parent
// waiting for one of them can stop too (for up to 5 s).
func (t *Tracer) ReleasePending() error {
	return t.Do(func() error {
		var errs []error
		for deadline := time.Now().Add(5 * time.Second); len(t.pending) > 0; time.Sleep(time.Millisecond) {
			for tid := range t.pending {
				st, ok := t.early[tid]
				if !ok {
					var ws unix.WaitStatus
					got, err := unix.Wait4(tid, &ws, unix.WALL|unix.WNOHANG, nil)
					if err == nil && got == 0 {
						continue
					}
					st = Status{ws}
					if err != nil {
						st = Status{unix.WaitStatus(9)} // gone
					}
				}
				delete(t.pending, tid)
				delete(t.early, tid)
				if !st.Stopped() {
					continue // exited
				}
				sig := 0
				if st.Event() == 0 && st.StopSignal() != unix.SIGTRAP {
					sig = int(st.StopSignal()) // a signal on its way: let it go on
				}
				if err := linux.PtraceDetach(tid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, fmt.Errorf("detach %d: %w", tid, err))
				}
			}
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("threads %v did not stop to be let go", keys(t.pending)))
				break
			}
		}
		return errors.Join(errs...)
	})
}

func keys(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Detach detaches tid, letting it run (delivering sig if non-zero).
func (t *Tracer) Detach(tid int, sig syscall.Signal) error {
	return t.Do(func() error {
		delete(t.seized, tid)
		delete(t.stopSig, tid)
		return linux.PtraceDetach(tid, int(sig))
	})
}

// SetOptions sets PTRACE_O_* options on tid.
func (t *Tracer) SetOptions(tid int, opts int) error {
	return t.Do(func() error {
		return linux.PtraceSetOptions(tid, opts)
	})
}

// GetRegs reads the general registers of a stopped tid.
func (t *Tracer) GetRegs(tid int) (Regs, error) {
	var r Regs
	err := t.Do(func() error { return sysErr("ptrace(GETREGS)", unix.PtraceGetRegs(tid, &r)) })
	return r, err
}

// SetRegs writes the general registers (fs_base and gs_base included).
func (t *Tracer) SetRegs(tid int, r Regs) error {
	return t.Do(func() error { return sysErr("ptrace(SETREGS)", unix.PtraceSetRegs(tid, &r)) })
}

// GetXstate reads the NT_X86_XSTATE regset (standard xsave layout).
func (t *Tracer) GetXstate(tid int) ([]byte, error) {
	buf := make([]byte, 16384)
	var n int
	err := t.Do(func() error {
		var err error
		n, err = linux.PtraceGetRegSet(tid, ntX86Xstate, buf)
		return err
	})
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// SetXstate writes the NT_X86_XSTATE regset.
func (t *Tracer) SetXstate(tid int, b []byte) error {
	return t.Do(func() error { return linux.PtraceSetRegSet(tid, ntX86Xstate, b) })
}

// GetSigmask reads the blocked signal mask (bit n-1 for signal n).
func (t *Tracer) GetSigmask(tid int) (uint64, error) {
	var m uint64
	err := t.Do(func() error {
		var err error
		m, err = linux.PtraceGetSigmask(tid)
		return err
	})
	return m, err
}

// SetSigmask sets the blocked signal mask.
func (t *Tracer) SetSigmask(tid int, m uint64) error {
	return t.Do(func() error { return linux.PtraceSetSigmask(tid, m) })
}

// GetRseq reads tid's rseq registration.
func (t *Tracer) GetRseq(tid int) (RseqConfig, error) {
	var c RseqConfig
	err := t.Do(func() error {
		var err error
		c, err = linux.PtraceGetRseqConfig(tid)
		return err
	})
	return c, err
}

// PendingSignals returns the siginfos queued for tid (shared=false) or for
// its whole thread group (shared=true), 128 bytes each.
func (t *Tracer) PendingSignals(tid int, shared bool) ([][128]byte, error) {
	var out [][linux.SiginfoSize]byte
	err := t.Do(func() error {
		var err error
		out, err = peekSiginfo(tid, shared)
		return err
	})
	return out, err
}

// RobustList returns tid's robust futex list head and its length.
func RobustList(tid int) (head, size uint64, err error) { return linux.GetRobustList(tid) }

// Kill sends SIGKILL to pid and reaps the given traced threads, non-leaders
// first (waiting for the leader first deadlocks), then the leader pid.
func (t *Tracer) Kill(pid int, tids []int) error {
	var errs []error
	err := t.Do(func() error { errs = t.killAll([]Task{{Pid: pid, Tids: tids}}); return nil })
	if err != nil {
		return err
	}
	return errs[0]
}

// Task is a process of a tree to kill (KillAll): its pid and its
// traced threads.
type Task struct {
	Pid  int
	Tids []int
}

// KillAll kills tasks as Kill each, in that order (children before
// their parents, a pid namespace's init last), but sends every SIGKILL
// first: the tasks exit side by side, and each is reaped as it is done,
// not killed only once the one before is gone. Every task is tried; the
// errors name their pids.
func (t *Tracer) KillAll(tasks []Task) error {
	var errs []error
	err := t.Do(func() error {
		for i, err := range t.killAll(tasks) {
			if err != nil {
				errs = append(errs, fmt.Errorf("kill %d: %w", tasks[i].Pid, err))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// killAll is KillAll's work, on the tracer thread: the kill error of
// each task.
func (t *Tracer) killAll(tasks []Task) []error {
	errs := make([]error, len(tasks))
	for i, k := range tasks {
		errs[i] = kill(k.Pid, unix.SIGKILL)
	}
	for _, k := range tasks {
		delete(t.seized, k.Pid)
		delete(t.stopSig, k.Pid)
		var others []int
		for _, tid := range k.Tids {
			delete(t.seized, tid)
			delete(t.stopSig, tid)
			if tid != k.Pid {
				others = append(others, tid)
			}
		}
		waitExitAll(others)
		waitExit(k.Pid)
	}
	return errs
}

// waitExitAll reaps the exits of tids in the order they come. A fixed
// order can deadlock: the last thread of a pid namespace's init to exit
// waits, inside the kernel (zap_pid_ns_processes), until every other
// task of the namespace is released, and traced zombie threads are
// released only once their tracer reaps them.
func waitExitAll(tids []int) {
	left := append([]int(nil), tids...)
	for len(left) > 0 {
		n := 0
		for _, tid := range left {
			if !exitedNohang(tid) {
				left[n] = tid
				n++
			}
		}
		if n == len(left) {
			time.Sleep(time.Millisecond)
		}
		left = left[:n]
	}
}

func waitExit(tid int) {
	for {
		st, err := wait(tid)
		if err != nil || st.Exited() || st.Signaled() {
			return
		}
	}
}

// WaitExit waits until pid (a child or tracee of the tracer) exits and
// returns its status.
func (t *Tracer) WaitExit(pid int) (Status, error) {
	var st Status
	err := t.Do(func() error {
		for {
			var err error
			st, err = wait(pid)
			if err != nil {
				return err
			}
			if st.Exited() || st.Signaled() {
				return nil
			}
			if st.Stopped() {
				// A traced child stopping: let it go on.
				sig := 0
				if st.Event() == 0 && st.StopSignal() != unix.SIGTRAP && st.StopSignal() != unix.SIGSTOP {
					sig = int(st.StopSignal())
				}
				linux.PtraceCont(pid, sig)
			}
		}
	})
	return st, err
}

// WaitStop waits for tid's next stop and returns it.
func (t *Tracer) WaitStop(tid int) (Status, error) {
	var st Status
	err := t.Do(func() error {
		var err error
		st, err = wait(tid)
		if err == nil && (st.Exited() || st.Signaled()) {
			return fmt.Errorf("tid %d: %w (status %#x)", tid, ErrExited, uint32(st.WaitStatus))
		}
		return err
	})
	return st, err
}

// StartTraced runs argv[0]=path with PTRACE_TRACEME and returns once it is
// stopped at its exec, before any of its code ran.
func (t *Tracer) StartTraced(path string, argv []string, attr *syscall.ProcAttr) (int, error) {
	var pid int
	err := t.Do(func() error {
		a := *attr
		sys := syscall.SysProcAttr{}
		if a.Sys != nil {
			sys = *a.Sys
		}
		sys.Ptrace = true
		a.Sys = &sys
		var err error
		pid, err = syscall.ForkExec(path, argv, &a)
		if err != nil {
			return fmt.Errorf("start %s: %w", path, err)
		}
		st, err := wait(pid)
		if err != nil {
			return err
		}
		if !st.Stopped() || st.StopSignal() != unix.SIGTRAP {
			return fmt.Errorf("start %s: unexpected status %#x", path, uint32(st.WaitStatus))
		}
		return nil
	})
	return pid, err
}

// StartSibling starts path (argv, no environment) as a child of criu's
// own parent, not of criu (clone3 with CLONE_PARENT and flags' new
// namespaces, with the pid setTid unless 0: linux.ForkSibling), as
// CRIU's --restore-sibling makes the restored root. The task is seized
// with opts and PTRACE_O_TRACEEXEC before it executes path, and
// StartSibling returns once it is stopped at its exec, before any of
// its code ran, with every signal blocked. It is a tracee, not a child:
// when it dies, criu's parent reaps it.
func (t *Tracer) StartSibling(path string, argv []string, flags uint64, setTid, opts int) (int, error) {
	var pid int
	err := t.Do(func() error {
		var err error
		pid, err = linux.ForkSibling(flags, setTid, path, argv, func(p int) error {
			return linux.PtraceSeize(p, opts|unix.PTRACE_O_TRACEEXEC)
		})
		if err != nil {
			return fmt.Errorf("start %s as criu's sibling: %w", path, err)
		}
		st, err := wait(pid)
		if err != nil {
			return err
		}
		if !st.Stopped() || st.Event() != unix.PTRACE_EVENT_EXEC {
			return fmt.Errorf("start %s as criu's sibling: unexpected status %#x (exit status 127: it could not be executed)", path, uint32(st.WaitStatus))
		}
		// That stop is inside execve: a single step first ends the call
		// (reported at its exit, before any instruction runs) and leaves
		// the task in a signal-delivery stop at its entry point, the
		// state a stub is in at its exec, where injections start.
		var before, after Regs
		if err := unix.PtraceGetRegs(pid, &before); err != nil {
			return sysErr("ptrace(GETREGS)", err)
		}
		if err := linux.PtraceSingleStep(pid); err != nil {
			return err
		}
		if st, err = wait(pid); err != nil {
			return err
		}
		if !st.Stopped() || st.StopSignal() != unix.SIGTRAP {
			return fmt.Errorf("start %s as criu's sibling: unexpected status %#x after its exec", path, uint32(st.WaitStatus))
		}
		if err := unix.PtraceGetRegs(pid, &after); err != nil {
			return sysErr("ptrace(GETREGS)", err)
		}
		if after.Rip != before.Rip {
			return fmt.Errorf("start %s as criu's sibling: ran from %#x to %#x after its exec", path, before.Rip, after.Rip)
		}
		return nil
	})
	return pid, err
}
