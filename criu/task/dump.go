package task

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Frozen is a frozen task whose state is read, with the scratch area the
// dump mapped into it: injected calls write their results there.
type Frozen struct {
	Pid, Vpid int // host pid; as the images name it
	Ppid      int // host pid of the parent, 0 for the tree's root
	Stat      procfs.Stat
	Tr        *ptrace.Tracer
	Threads   []*Thread // leader first
	Scratch   uint64    // address of the scratch area
}

// Thread is one frozen thread of a Frozen task.
type Thread struct {
	Tid, Vtid int         // host tid; as the images name it
	Regs      ptrace.Regs // as stopped
	Mask      uint64      // blocked signals as found
	In        *ptrace.Injector
}

// readScratch reads n bytes at offset off of the scratch area.
func (f *Frozen) readScratch(off, n uint64) ([]byte, error) {
	b := make([]byte, n)
	err := mem.ReadRemote(f.Pid, []mem.Range{{Start: f.Scratch + off, End: f.Scratch + off + n}}, b)
	return b, err
}

// threadOf is f's thread with host tid tid, nil for none.
func (f *Frozen) threadOf(tid int) *Thread {
	for _, th := range f.Threads {
		if th.Tid == tid {
			return th
		}
	}
	return nil
}

// Kernel restart codes (include/linux/errno.h), seen in rax of a thread
// stopped inside a syscall.
const (
	errRestartSys    = 512
	errRestartNoIntr = 513
	errRestartNoHand = 514
	errRestartBlock  = 516
	nrRestartSyscall = 219
)

// gpregs converts registers into the image, applying CRIU's rule for a
// thread stopped inside a syscall: a restartable one is re-entered
// (rax = syscall number, rip back over the 2-byte syscall instruction);
// one with a restart block returns EINTR.
func gpregs(r ptrace.Regs) *images.UserX86RegsEntry {
	if int64(r.Orig_rax) >= 0 {
		switch int64(int32(r.Rax)) {
		case -errRestartSys, -errRestartNoIntr, -errRestartNoHand:
			r.Rax = r.Orig_rax
			r.Rip -= 2
		case -errRestartBlock:
			eintr := -int64(unix.EINTR)
			r.Rax = uint64(eintr)
		}
	}
	return &images.UserX86RegsEntry{
		R15: proto.Uint64(r.R15), R14: proto.Uint64(r.R14), R13: proto.Uint64(r.R13), R12: proto.Uint64(r.R12),
		Bp: proto.Uint64(r.Rbp), Bx: proto.Uint64(r.Rbx), R11: proto.Uint64(r.R11), R10: proto.Uint64(r.R10),
		R9: proto.Uint64(r.R9), R8: proto.Uint64(r.R8), Ax: proto.Uint64(r.Rax), Cx: proto.Uint64(r.Rcx),
		Dx: proto.Uint64(r.Rdx), Si: proto.Uint64(r.Rsi), Di: proto.Uint64(r.Rdi), OrigAx: proto.Uint64(r.Orig_rax),
		Ip: proto.Uint64(r.Rip), Cs: proto.Uint64(r.Cs), Flags: proto.Uint64(r.Eflags), Sp: proto.Uint64(r.Rsp),
		Ss: proto.Uint64(r.Ss), FsBase: proto.Uint64(r.Fs_base), GsBase: proto.Uint64(r.Gs_base),
		Ds: proto.Uint64(r.Ds), Es: proto.Uint64(r.Es), Fs: proto.Uint64(r.Fs), Gs: proto.Uint64(r.Gs),
		Mode: images.UserX86RegsMode_NATIVE.Enum(),
	}
}

func siginfos(infos [][128]byte) *images.SignalQueueEntry {
	q := &images.SignalQueueEntry{}
	for _, si := range infos {
		q.Signals = append(q.Signals, &images.SiginfoEntry{Siginfo: append([]byte(nil), si[:]...)})
	}
	return q
}

// DumpThread reads the state of thread th of the frozen task f into its
// core: registers (CRIU's rule for a thread stopped in a syscall), FPU
// state, rseq, pending signals, robust futex list, clear-tid address,
// sigaltstack, parent-death signal, securebits, scheduling, creds and
// name. It injects, so it runs on the ptrace goroutine.
func DumpThread(f *Frozen, th *Thread) (*images.CoreEntry, error) {
	tid := th.Tid
	xs, err := f.Tr.GetXstate(tid)
	if err != nil {
		return nil, err
	}
	rseq, err := f.Tr.GetRseq(tid)
	if err != nil {
		return nil, err
	}
	pend, err := f.Tr.PendingSignals(tid, false)
	if err != nil {
		return nil, err
	}
	head, hlen, err := ptrace.RobustList(tid)
	if err != nil {
		return nil, err
	}
	in := th.In
	rets, err := in.Batch(
		ptrace.Call{Name: "prctl(PR_GET_TID_ADDRESS)", Nr: unix.SYS_PRCTL, Args: []uint64{unix.PR_GET_TID_ADDRESS, f.Scratch}},
		ptrace.Call{Name: "sigaltstack", Nr: unix.SYS_SIGALTSTACK, Args: []uint64{0, f.Scratch + 8}},
		ptrace.Call{Name: "prctl(PR_GET_PDEATHSIG)", Nr: unix.SYS_PRCTL, Args: []uint64{unix.PR_GET_PDEATHSIG, f.Scratch + 64}},
		ptrace.Call{Name: "prctl(PR_GET_SECUREBITS)", Nr: unix.SYS_PRCTL, Args: []uint64{unix.PR_GET_SECUREBITS}},
	)
	if err != nil {
		return nil, err
	}
	secbits := rets[3]
	b, err := f.readScratch(0, 68)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	clearTid := le.Uint64(b[0:])
	ss := linux.DecodeStackT(b[8:])
	ssSp, ssFlags, ssSize := ss.Sp, ss.Flags, ss.Size
	pdeath := le.Uint32(b[64:])
	policy, nice, prio, err := schedOf(tid)
	if err != nil {
		return nil, err
	}
	if err := checkThreadMisc(f.Tr, tid); err != nil {
		return nil, err
	}

	task := fmt.Sprintf("task/%d/", tid)
	comm, err := procfs.ReadComm(procfs.Path(f.Pid, task+"comm"))
	if err != nil {
		return nil, err
	}
	st, err := procfs.ReadStatusFile(procfs.Path(f.Pid, task+"status"))
	if err != nil {
		return nil, err
	}
	creds, err := credsFromStatus(st)
	if err != nil {
		return nil, err
	}
	creds.Secbits = proto.Uint32(uint32(secbits))
	tc := &images.ThreadCoreEntry{
		FutexRla:    proto.Uint64(head),
		FutexRlaLen: proto.Uint32(uint32(hlen)),
		SchedNice:   proto.Int32(nice),
		SchedPolicy: proto.Uint32(policy),
		SchedPrio:   proto.Uint32(prio),
		PdeathSig:   proto.Uint32(pdeath),
		BlkSigset:   proto.Uint64(th.Mask),
		Sas:         &images.ThreadSasEntry{SsSp: proto.Uint64(ssSp), SsSize: proto.Uint64(ssSize), SsFlags: proto.Uint32(ssFlags)},
		SignalsP:    siginfos(pend),
		Creds:       creds,
		Comm:        proto.String(comm),
	}
	if rseq.Pointer != 0 {
		tc.RseqEntry = &images.RseqEntry{
			RseqAbiPointer: proto.Uint64(rseq.Pointer),
			RseqAbiSize:    proto.Uint32(rseq.Size),
			Signature:      proto.Uint32(rseq.Signature),
		}
	}
	core := &images.CoreEntry{
		Mtype: images.CoreEntry_X86_64.Enum(),
		ThreadInfo: &images.ThreadInfoX86{
			ClearTidAddr: proto.Uint64(clearTid),
			Gpregs:       gpregs(th.Regs),
			Fpregs:       ptrace.FpregsFromXstate(xs),
		},
		ThreadCore: tc,
	}
	return core, nil
}

// credsFromStatus reads a thread's credentials from its status file.
// A missing or malformed field fails, naming the file and the field.
func credsFromStatus(st procfs.Status) (*images.CredsEntry, error) {
	uids, err := st.IntsN("Uid", 4)
	if err != nil {
		return nil, err
	}
	gids, err := st.IntsN("Gid", 4)
	if err != nil {
		return nil, err
	}
	groups, err := st.Ints("Groups")
	if err != nil {
		return nil, err
	}
	var capSets [5][]uint32
	for i, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		v, err := st.Hex(k)
		if err != nil {
			return nil, err
		}
		capSets[i] = []uint32{uint32(v), uint32(v >> 32)}
	}
	nnp, err := st.Uint("NoNewPrivs")
	if err != nil {
		return nil, err
	}
	if nnp > 1 {
		return nil, fmt.Errorf("parse %s: field NoNewPrivs %d: not 0 or 1", st[""], nnp)
	}
	return &images.CredsEntry{
		Uid: proto.Uint32(uids[0]), Euid: proto.Uint32(uids[1]), Suid: proto.Uint32(uids[2]), Fsuid: proto.Uint32(uids[3]),
		Gid: proto.Uint32(gids[0]), Egid: proto.Uint32(gids[1]), Sgid: proto.Uint32(gids[2]), Fsgid: proto.Uint32(gids[3]),
		CapInh: capSets[0], CapPrm: capSets[1], CapEff: capSets[2], CapBnd: capSets[3], CapAmb: capSets[4],
		Secbits:    proto.Uint32(0),
		Groups:     groups,
		NoNewPrivs: proto.Uint32(uint32(nnp)),
	}, nil
}

// DumpCore reads the process-wide state of the frozen task f, kept in
// its leader's core: sigactions, shared pending signals, timers, rlimits,
// personality, oom_score_adj, the child-subreaper flag, the membarrier
// registrations, the login uid; stopSignal tells, once the injections
// are done, the signal that had stopped the task (0: it was running; an
// injected call may consume a pending SIGSTOP). It injects, so it runs
// on the ptrace goroutine.
func DumpCore(f *Frozen, stopSignal func() syscall.Signal) (*images.TaskCoreEntry, error) {
	leader := f.Threads[0]
	in := leader.In
	le := binary.LittleEndian
	// Each injected call costs tens of microseconds of frozen time, so
	// only the signals that have a handler (SigCgt), and SIGCHLD (whose
	// SA_NOCLDWAIT/SA_NOCLDSTOP matter even without one), are asked for;
	// the others are SIG_IGN (SigIgn) or SIG_DFL with no flags, mask or
	// restorer. Flags set on a default or ignored signal other than
	// SIGCHLD are not kept: they change nothing but what sigaction()
	// reports.
	pst, err := procfs.ReadStatus(f.Pid)
	if err != nil {
		return nil, err
	}
	caught, err := pst.Hex("SigCgt")
	if err != nil {
		return nil, err
	}
	ignored, err := pst.Hex("SigIgn")
	if err != nil {
		return nil, err
	}
	ask := func(sig int) bool {
		return sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) &&
			(caught&(1<<(sig-1)) != 0 || sig == int(unix.SIGCHLD))
	}
	// One batch: the asked actions to scratch[sig*32], then the interval
	// timers past them, at scratch[itimerOff+which*32].
	const itimerOff = 65 * linux.KSigactionSize
	var calls []ptrace.Call
	for sig := 1; sig <= 64; sig++ {
		if ask(sig) {
			calls = append(calls, ptrace.Call{Name: "rt_sigaction", Nr: unix.SYS_RT_SIGACTION, Args: []uint64{uint64(sig), 0, f.Scratch + uint64(sig)*linux.KSigactionSize, linux.SigsetSize}})
		}
	}
	for which := range uint64(3) {
		calls = append(calls, ptrace.Call{Name: "getitimer", Nr: unix.SYS_GETITIMER, Args: []uint64{which, f.Scratch + itimerOff + which*32}})
	}
	if _, err := in.Batch(calls...); err != nil {
		return nil, err
	}
	b, err := f.readScratch(0, itimerOff+3*32)
	if err != nil {
		return nil, err
	}
	// As CRIU writes them: signals 1 to 64 but SIGKILL and SIGSTOP, 62
	// entries.
	var sas []*images.SaEntry
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		k := linux.DecodeKSigaction(b[sig*linux.KSigactionSize:])
		sa := &images.SaEntry{
			Sigaction: proto.Uint64(k.Handler),
			Flags:     proto.Uint64(k.Flags),
			Restorer:  proto.Uint64(k.Restorer),
			Mask:      proto.Uint64(k.Mask),
		}
		if !ask(sig) {
			handler := uint64(0) // SIG_DFL
			if ignored&(1<<(sig-1)) != 0 && sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) {
				handler = 1 // SIG_IGN
			}
			sa = &images.SaEntry{Sigaction: proto.Uint64(handler), Flags: proto.Uint64(0), Restorer: proto.Uint64(0), Mask: proto.Uint64(0)}
		}
		sas = append(sas, sa)
	}
	// Interval timers.
	var its [3]*images.ItimerEntry
	for which := 0; which < 3; which++ {
		e := b[itimerOff+which*32:]
		its[which] = &images.ItimerEntry{
			Isec: proto.Uint64(le.Uint64(e[0:])), Iusec: proto.Uint64(le.Uint64(e[8:])),
			Vsec: proto.Uint64(le.Uint64(e[16:])), Vusec: proto.Uint64(le.Uint64(e[24:])),
		}
	}
	timers := &images.TaskTimersEntry{Real: its[0], Virt: its[1], Prof: its[2]}
	// POSIX timers.
	pts, err := procfs.ReadTimers(f.Pid)
	if err != nil {
		return nil, err
	}
	{
		for _, pt := range pts {
			rets, err := in.Batch(
				ptrace.Call{Name: "timer_gettime", Nr: unix.SYS_TIMER_GETTIME, Args: []uint64{uint64(pt.ID), f.Scratch}},
				ptrace.Call{Name: "timer_getoverrun", Nr: unix.SYS_TIMER_GETOVERRUN, Args: []uint64{uint64(pt.ID)}},
			)
			if err != nil {
				return nil, err
			}
			ov := rets[1]
			b, err := f.readScratch(0, 32)
			if err != nil {
				return nil, err
			}
			// A SIGEV_THREAD_ID timer names the thread to signal;
			// it must be one of the task's own.
			notifyID := f.Vpid
			if pt.ToThread {
				th := f.threadOf(pt.NotifyID)
				if th == nil {
					return nil, fmt.Errorf("POSIX timer %d notifies thread %d, which is not a thread of %d", pt.ID, pt.NotifyID, f.Pid)
				}
				notifyID = th.Vtid
			}
			timers.Posix = append(timers.Posix, &images.PosixTimerEntry{
				ItId: proto.Uint32(uint32(pt.ID)), ClockId: proto.Uint32(uint32(pt.ClockID)),
				SiSigno: proto.Uint32(uint32(pt.Signal)), ItSigevNotify: proto.Uint32(pt.SigevNotify()),
				SivalPtr: proto.Uint64(pt.SigVal), Overrun: proto.Uint32(uint32(ov)),
				Isec: proto.Uint64(le.Uint64(b[0:])), Insec: proto.Uint64(le.Uint64(b[8:])),
				Vsec: proto.Uint64(le.Uint64(b[16:])), Vnsec: proto.Uint64(le.Uint64(b[24:])),
				NotifyThreadId: proto.Int32(int32(notifyID)),
			})
		}
	}
	// Rlimits.
	// From /proc: prlimit64 on a task with other ids than ours needs
	// CAP_SYS_RESOURCE.
	lims, err := procfs.ReadLimits(f.Pid)
	if err != nil {
		return nil, err
	}
	rl := &images.TaskRlimitsEntry{}
	for _, lim := range lims {
		rl.Rlimits = append(rl.Rlimits, &images.RlimitEntry{Cur: proto.Uint64(lim.Cur), Max: proto.Uint64(lim.Max)})
	}
	shared, err := f.Tr.PendingSignals(leader.Tid, true)
	if err != nil {
		return nil, err
	}
	persv, err := procfs.ReadPersonality(f.Pid)
	if err != nil {
		return nil, err
	}
	for _, th := range f.Threads {
		// Each thread has its own (personality(2) sets the caller's);
		// the images keep one, which every restored thread gets.
		p, err := procfs.ReadPersonality(th.Tid)
		if err != nil {
			return nil, err
		}
		if p != persv {
			return nil, fmt.Errorf("thread %d: %w: personality %#x differs from its task's %#x (the images keep one a task)", th.Tid, errdefs.ErrUnsupported, p, persv)
		}
	}
	comm, err := procfs.ReadComm(procfs.Path(f.Pid, "comm"))
	if err != nil {
		return nil, err
	}
	membarrier, err := membarrierRegistrations(f.Pid, in)
	if err != nil {
		return nil, err
	}
	if err := checkTaskMisc(f); err != nil {
		return nil, err
	}
	loginuid, err := readLoginuid(f.Pid)
	if err != nil {
		return nil, err
	}
	oom, err := readOOMScoreAdj(f.Pid)
	if err != nil {
		return nil, err
	}
	subreaper, err := childSubreaper(f, in)
	if err != nil {
		return nil, err
	}
	tc := &images.TaskCoreEntry{
		TaskState:      proto.Uint32(StateAlive),
		ExitCode:       proto.Uint32(0),
		Personality:    proto.Uint32(uint32(persv)),
		Flags:          proto.Uint32(uint32(f.Stat.Flags)),
		BlkSigset:      proto.Uint64(leader.Mask),
		Comm:           proto.String(comm),
		Timers:         timers,
		Rlimits:        rl,
		SignalsS:       siginfos(shared),
		Sigactions:     sas,
		OomScoreAdj:    proto.Int32(oom),
		Loginuid:       proto.Uint32(loginuid),
		ChildSubreaper: proto.Bool(subreaper),
	}
	if membarrier != 0 {
		tc.MembarrierRegistrationMask = proto.Uint32(membarrier)
	}
	// Stopped (SIGSTOP, SIGTSTP...): CRIU's TASK_STOPPED with the signal,
	// which restore sends again before it lets the task go.
	if sig := stopSignal(); sig != 0 {
		tc.TaskState = proto.Uint32(StateStopped)
		tc.StopSigno = proto.Uint32(uint32(sig))
	}
	return tc, nil
}

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
func childSubreaper(f *Frozen, in *ptrace.Injector) (bool, error) {
	if _, err := in.Syscall("prctl(PR_GET_CHILD_SUBREAPER)", unix.SYS_PRCTL, unix.PR_GET_CHILD_SUBREAPER, f.Scratch); err != nil {
		return false, err
	}
	b, err := f.readScratch(0, 4)
	if err != nil {
		return false, err
	}
	return binary.LittleEndian.Uint32(b) != 0, nil
}

// Membarrier commands (uapi/linux/membarrier.h).
const membarrierCmdGetRegistrations = 1 << 9

// membarrierRegistrations asks the task, with an injected
// membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS), which membarrier
// commands its mm is registered for: the MEMBARRIER_CMD_REGISTER_* bits,
// which restore issues again. The registration is per mm, so the
// leader's answer holds for all threads. A kernel without the command
// (before 6.3) cannot tell: the dump fails rather than drop them.
func membarrierRegistrations(pid int, in *ptrace.Injector) (uint32, error) {
	mask, err := in.Syscall("membarrier(MEMBARRIER_CMD_GET_REGISTRATIONS)", unix.SYS_MEMBARRIER, membarrierCmdGetRegistrations, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("task %d: membarrier registrations: %w", pid, err)
	}
	return uint32(mask), nil
}

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
		return 0, 0, 0, fmt.Errorf("thread %d: %w: scheduling policy SCHED_DEADLINE (runtime %d ns, deadline %d ns, period %d ns)", tid, errdefs.ErrUnsupported, a.Runtime, a.Deadline, a.Period)
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

// checkThreadMisc refuses per-thread state that CRIU's images have no
// place for and that a restored thread would silently lose: an I/O
// priority set with ioprio_set (0: none set, the kernel derives it from
// the nice value), a CPU affinity other than the dumper's.
func checkThreadMisc(tr *ptrace.Tracer, tid int) error {
	prio, err := linux.IoprioGet(linux.IOPRIO_WHO_PROCESS, tid)
	if err != nil {
		return fmt.Errorf("thread %d: %w", tid, err)
	}
	if prio != 0 {
		return fmt.Errorf("thread %d: %w: I/O priority class %d level %d (ioprio_set) has no place in the images", tid, errdefs.ErrUnsupported, prio>>13, prio&0x1fff)
	}
	// CPU affinity has no field in CRIU's images either: a restored
	// thread runs where the restorer may. One pinned to other CPUs than
	// the dumper's own (taskset, sched_setaffinity) would lose that.
	// Both as found: the tracer moves the frozen threads to its CPU.
	mine, err := tr.OwnAffinity()
	if err != nil {
		return err
	}
	its, err := tr.Affinity(tid)
	if err != nil {
		return err
	}
	if its != mine {
		return fmt.Errorf("thread %d: %w: CPU affinity %s differs from criu's %s and has no place in the images", tid, errdefs.ErrUnsupported, cpuList(&its), cpuList(&mine))
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
func checkTaskMisc(f *Frozen) error {
	if f.Ppid != 0 && f.Stat.ExitSignal != int(unix.SIGCHLD) {
		return fmt.Errorf("task %d: %w: its exit signal is %d, not SIGCHLD (clone exit_signal)", f.Pid, errdefs.ErrUnsupported, f.Stat.ExitSignal)
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
