package dump

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/proto/images"
)

// readOOMScoreAdj reads /proc/PID/oom_score_adj, a process-wide value
// (kept in the signal struct, shared by all threads), in -1000..1000.
func readOOMScoreAdj(pid int) (int32, error) {
	name := procfs.Path(pid, "oom_score_adj")
	s, err := procfs.ReadTrim(name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v < -1000 || v > 1000 {
		return 0, fmt.Errorf("parse %s: %q is not an oom_score_adj", name, s)
	}
	return int32(v), nil
}

// childSubreaper asks the task, with an injected
// prctl(PR_GET_CHILD_SUBREAPER), whether it is a child subreaper: /proc
// does not show it. The flag is process-wide, so the leader's answer
// holds for all threads. Runs on the ptrace goroutine (it injects).
func (d *dumper) childSubreaper(in *ptrace.Injector) (bool, error) {
	if _, err := in.Syscall("prctl(PR_GET_CHILD_SUBREAPER)", unix.SYS_PRCTL, unix.PR_GET_CHILD_SUBREAPER, d.scr.addr); err != nil {
		return false, err
	}
	b, err := d.readScratch(0, 4)
	if err != nil {
		return false, err
	}
	return binary.LittleEndian.Uint32(b) != 0, nil
}

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

// threadOf is d's thread with host tid tid, nil for none.
func (d *dumper) threadOf(tid int) *thread {
	for _, th := range d.threads {
		if th.tid == tid {
			return th
		}
	}
	return nil
}

// Membarrier commands (uapi/linux/membarrier.h).
const membarrierCmdGetRegistrations = 1 << 9

// membarrierRegistrations asks the task, with an injected
// membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS), which membarrier
// commands its mm is registered for: the MEMBARRIER_CMD_REGISTER_* bits,
// which restore issues again. The registration is per mm, so the
// leader's answer holds for all threads. A kernel without the command
// (before 6.3) cannot tell: the dump fails rather than drop them.
func (d *dumper) membarrierRegistrations(in *ptrace.Injector) (uint32, error) {
	mask, err := in.Syscall("membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS)", unix.SYS_MEMBARRIER, membarrierCmdGetRegistrations, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("task %d: membarrier registrations: %w", d.pid, err)
	}
	return uint32(mask), nil
}

// Scheduling policies and flags (uapi/linux/sched.h).
const (
	schedDeadline    = 6
	schedResetOnFork = 0x40000000
	schedFlagReset   = 0x01 // SCHED_FLAG_RESET_ON_FORK in sched_attr.sched_flags
)

// schedOf reads a thread's scheduling policy (with SCHED_RESET_ON_FORK
// or'ed in, as sched_getscheduler() gives it and CRIU saves it), nice
// value and real-time priority. SCHED_DEADLINE is refused: its runtime,
// deadline and period have no place in the image.
func schedOf(tid int) (policy uint32, nice int32, prio uint32, err error) {
	a, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("thread %d: %w", tid, os.NewSyscallError("sched_getattr", err))
	}
	if a.Policy == schedDeadline {
		return 0, 0, 0, fmt.Errorf("thread %d: %w: scheduling policy SCHED_DEADLINE (runtime %d ns, deadline %d ns, period %d ns)", tid, ErrUnsupported, a.Runtime, a.Deadline, a.Period)
	}
	policy = a.Policy
	if a.Flags&schedFlagReset != 0 {
		policy |= schedResetOnFork
	}
	// sched_getattr reports nice 0 for a real-time thread, which keeps
	// its nice value all the same (and shows it again back under
	// SCHED_OTHER); getpriority tells it for every policy, as 20 - nice
	// from the raw syscall.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("thread %d: %w", tid, os.NewSyscallError("getpriority", err))
	}
	return policy, int32(20 - p), a.Priority, nil
}

// threadSeccomp reads the Seccomp and Seccomp_filters fields of a
// thread's status.
func threadSeccomp(pid, tid int) (mode uint32, count int, err error) {
	st, err := procfs.ReadStatusFile(procfs.Path(pid, fmt.Sprintf("task/%d/status", tid)))
	if err != nil {
		return 0, 0, err
	}
	m, err := st.Uint("Seccomp")
	if err != nil {
		return 0, 0, err
	}
	n, err := st.Uint("Seccomp_filters")
	if err != nil {
		return 0, 0, err
	}
	return uint32(m), int(n), nil
}

// suspendSeccomp lets the injected syscalls of the dump pass the
// seccomp filters (or strict mode) of every thread of pid that has
// them (PTRACE_O_SUSPEND_SECCOMP, until the thread is detached). It is
// called once every thread of the task is stopped, so none can change
// another's filters (TSYNC) any more.
func suspendSeccomp(tr *ptrace.Tracer, pid int, ths []*thread) error {
	for _, th := range ths {
		mode, _, err := threadSeccomp(pid, th.tid)
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
		mode, count, err := threadSeccomp(d.pid, th.tid)
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

// refusePendingTrap refuses a task with a SIGTRAP pending for it or one
// of its threads, as CRIU does: the injected syscalls run with SIGTRAP
// unblocked (ptrace.Injector: a blocked forced trap would reset the
// task's handler), so the pending one would be taken in place of their
// trap and lost.
func refusePendingTrap(pid int, ths []*thread) error {
	const trap = 1 << (unix.SIGTRAP - 1)
	for _, th := range ths {
		st, err := procfs.ReadStatusFile(procfs.Path(pid, fmt.Sprintf("task/%d/status", th.tid)))
		if err != nil {
			return err
		}
		for _, k := range []string{"SigPnd", "ShdPnd"} {
			v, err := st.Hex(k)
			if err != nil {
				return err
			}
			if v&trap != 0 {
				return fmt.Errorf("thread %d: %w: a SIGTRAP is pending (%s): the dump's own traps would take its place", th.tid, ErrUnsupported, k)
			}
		}
	}
	return nil
}

// ioprioWhoProcess is IOPRIO_WHO_PROCESS (uapi/linux/ioprio.h): one
// thread, by tid.
const ioprioWhoProcess = 1

// checkThreadMisc refuses per-thread state that CRIU's images have no
// place for and that a restored thread would silently lose: an I/O
// priority set with ioprio_set (0: none set, the kernel derives it from
// the nice value), a CPU affinity other than the dumper's.
func checkThreadMisc(tid int) error {
	prio, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, ioprioWhoProcess, uintptr(tid), 0)
	if e != 0 {
		return fmt.Errorf("thread %d: %w", tid, os.NewSyscallError("ioprio_get", e))
	}
	if prio != 0 {
		return fmt.Errorf("thread %d: %w: I/O priority class %d level %d (ioprio_set) has no place in the images", tid, ErrUnsupported, prio>>13, prio&0x1fff)
	}
	// CPU affinity has no field in CRIU's images either: a restored
	// thread runs where the restorer may. One pinned to other CPUs than
	// the dumper's own (taskset, sched_setaffinity) would lose that.
	var mine, its unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		return os.NewSyscallError("sched_getaffinity", err)
	}
	if err := unix.SchedGetaffinity(tid, &its); err != nil {
		return fmt.Errorf("thread %d: %w", tid, os.NewSyscallError("sched_getaffinity", err))
	}
	if its != mine {
		return fmt.Errorf("thread %d: %w: CPU affinity %s differs from criu's %s and has no place in the images", tid, ErrUnsupported, cpuList(&its), cpuList(&mine))
	}
	return nil
}

// cpuList shows a CPU set as a list ("0-3,6").
func cpuList(s *unix.CPUSet) string {
	var b strings.Builder
	for c := 0; c < len(s)*64; c++ {
		if !s.IsSet(c) || (c > 0 && s.IsSet(c-1)) {
			continue
		}
		e := c
		for e+1 < len(s)*64 && s.IsSet(e+1) {
			e++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if e == c {
			fmt.Fprintf(&b, "%d", c)
		} else {
			fmt.Fprintf(&b, "%d-%d", c, e)
		}
	}
	return b.String()
}

// checkTaskMisc refuses per-process state that CRIU's images have no
// place for: a child whose exit signal is not SIGCHLD (clone's
// exit_signal, which restore's fork does not take).
func (d *dumper) checkTaskMisc() error {
	if d.ppid != 0 && d.stat.ExitSignal != int(unix.SIGCHLD) {
		return fmt.Errorf("task %d: %w: its exit signal is %d, not SIGCHLD (clone exit_signal)", d.pid, ErrUnsupported, d.stat.ExitSignal)
	}
	return nil
}

// readLoginuid reads /proc/PID/loginuid, the audit login uid
// (4294967295: never set).
func readLoginuid(pid int) (uint32, error) {
	name := procfs.Path(pid, "loginuid")
	s, err := procfs.ReadTrim(name)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %q is not a uid", name, s)
	}
	return uint32(v), nil
}
