package task

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Task is a task being restored, as its state is set from inside it.
type Task interface {
	// Sys runs system call nr inside the task (its leader).
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	// WriteScratch writes b at offset off of the task's scratch area,
	// whose address is Scratch.
	WriteScratch(off uint64, b []byte) error
	Scratch() uint64
}

var atFdcwd = func() uint64 { v := int64(unix.AT_FDCWD); return uint64(v) }()

const prTimerCreateRestoreIDs = 77

// cstring writes s NUL-terminated at offset off of t's scratch area and
// returns its address there.
func cstring(t Task, off uint64, s string) (uint64, error) {
	return t.Scratch() + off, t.WriteScratch(off, append([]byte(s), 0))
}

// SetSigactions gives the task pid (t's leader) its signal handlers.
// It runs before any code of the task's, in a task cloned from the stub
// stopped at its exec (or forked from such a one): each action is then
// the exec's, SIG_IGN where /proc says ignored (SigIgn) and SIG_DFL
// elsewhere, with no flags, mask or restorer (the kernel resets them at
// exec). An action of the image equal to that is not set again: an
// injected call costs tens of microseconds, and most of a tree's 62
// actions per task are defaults. A task with a handler already (SigCgt)
// is not in that state: every action is set.
func SetSigactions(t Task, pid int, tc *images.TaskCoreEntry) error {
	sigs, err := sigactionSignals(len(tc.GetSigactions()))
	if err != nil {
		return err
	}
	pst, err := procfs.ReadStatus(pid)
	if err != nil {
		return err
	}
	caught, err := pst.Hex("SigCgt")
	if err != nil {
		return err
	}
	ignored, err := pst.Hex("SigIgn")
	if err != nil {
		return err
	}
	for i, sa := range tc.GetSigactions() {
		sig := sigs[i]
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		k := linux.KSigaction{Handler: sa.GetSigaction(), Flags: sa.GetFlags(), Restorer: sa.GetRestorer(), Mask: sa.GetMask()}
		if caught == 0 {
			now := linux.KSigaction{} // SIG_DFL
			if ignored&(1<<(sig-1)) != 0 {
				now.Handler = 1 // SIG_IGN
			}
			if k == now {
				continue
			}
		}
		if err := t.WriteScratch(0, k.Bytes()); err != nil {
			return err
		}
		if _, err := t.Sys("rt_sigaction", unix.SYS_RT_SIGACTION, uint64(sig), t.Scratch(), 0, linux.SigsetSize); err != nil {
			return err
		}
	}
	return nil
}

// SetPersonality gives the task its personality, also when it is 0: the
// stub kept the restorer's across exec (criu run under setarch -R gives
// it ADDR_NO_RANDOMIZE).
func SetPersonality(t Task, tc *images.TaskCoreEntry) error {
	_, err := t.Sys("personality", unix.SYS_PERSONALITY, uint64(tc.GetPersonality()))
	return err
}

// SetRlimits sets the task's rlimits, from outside; raising a hard limit
// needs CAP_SYS_RESOURCE: a limit that cannot be set is logged.
func SetRlimits(pid int, tc *images.TaskCoreEntry, log zerolog.Logger) {
	for res, rl := range tc.GetRlimits().GetRlimits() {
		lim := unix.Rlimit{Cur: rl.GetCur(), Max: rl.GetMax()}
		if err := unix.Prlimit(pid, res, &lim, nil); err != nil {
			log.Warn().Int("resource", res).Err(err).Msg("prlimit")
		}
	}
}

// SetItimers arms the task's interval timers again.
func SetItimers(t Task, tc *images.TaskCoreEntry) error {
	le := binary.LittleEndian
	tm := tc.GetTimers()
	for which, it := range []*images.ItimerEntry{tm.GetReal(), tm.GetVirt(), tm.GetProf()} {
		if it == nil {
			continue
		}
		vs, vus := it.GetVsec(), it.GetVusec()
		if vs == 0 && vus == 0 {
			// An interval timer that fired while its signal was still
			// pending is re-armed only when that signal is taken; its
			// next period starts now.
			vs, vus = it.GetIsec(), it.GetIusec()
		}
		if vs == 0 && vus == 0 {
			continue
		}
		b := make([]byte, 32)
		le.PutUint64(b[0:], it.GetIsec())
		le.PutUint64(b[8:], it.GetIusec())
		le.PutUint64(b[16:], vs)
		le.PutUint64(b[24:], vus)
		if err := t.WriteScratch(0, b); err != nil {
			return err
		}
		if _, err := t.Sys("setitimer", unix.SYS_SETITIMER, uint64(which), t.Scratch(), 0); err != nil {
			return err
		}
	}
	return nil
}

// SetOOMScoreAdj writes the dumped oom_score_adj into
// /proc/PID/oom_score_adj of the restored task, from outside (as CRIU
// does from inside, through /proc/self). The value is process-wide.
//
// The kernel refuses, with EACCES, a value below the task's
// oom_score_adj_min to a writer without CAP_SYS_RESOURCE. The restored
// task inherited that minimum from the restorer, and this machine does
// not grant CAP_SYS_RESOURCE, so a value below it (typically a negative
// one, when the restorer runs at 0) cannot be set here: that is logged as
// a warning naming the task and the value, and the restore goes on with
// the inherited value, as for rlimits that cannot be raised. Raising it,
// or lowering it to no less than the minimum, always works.
func SetOOMScoreAdj(pid, vpid int, tc *images.TaskCoreEntry, log zerolog.Logger) error {
	if tc.OomScoreAdj == nil {
		return nil // an image from a dumper that did not keep it
	}
	v := tc.GetOomScoreAdj()
	if v < -1000 || v > 1000 {
		return fmt.Errorf("%w: oom_score_adj %d out of -1000..1000", errdefs.ErrBadImage, v)
	}
	name := procfs.Path(pid, "oom_score_adj")
	err := os.WriteFile(name, []byte(strconv.Itoa(int(v))), 0)
	if errors.Is(err, unix.EACCES) {
		cur, _ := procfs.ReadTrim(name)
		log.Warn().Int("pid", vpid).Int32("oom_score_adj", v).Str("kept", cur).Err(err).
			Msgf("task %d: cannot set oom_score_adj %d without CAP_SYS_RESOURCE, keeping %s", vpid, v, cur)
		return nil
	}
	if err != nil {
		return fmt.Errorf("set oom_score_adj %d: %w", v, err)
	}
	return nil
}

// SetChildSubreaper makes the restored task a child subreaper again
// with an injected prctl(PR_SET_CHILD_SUBREAPER, 1). Tasks start without
// the flag (it is not inherited by fork), so only a set flag needs work.
func SetChildSubreaper(t Task, tc *images.TaskCoreEntry) error {
	if !tc.GetChildSubreaper() {
		return nil
	}
	_, err := t.Sys("prctl(PR_SET_CHILD_SUBREAPER)", unix.SYS_PRCTL, unix.PR_SET_CHILD_SUBREAPER, 1)
	return err
}

// SetMembarrier registers the task's mm again for the membarrier
// commands it was registered for at dump (membarrier_registration_mask:
// MEMBARRIER_CMD_REGISTER_* bits), one injected membarrier() each.
func SetMembarrier(t Task, tc *images.TaskCoreEntry) error {
	mask := tc.GetMembarrierRegistrationMask()
	for bit := 0; bit < 32; bit++ {
		if mask&(1<<bit) == 0 {
			continue
		}
		if _, err := t.Sys(fmt.Sprintf("membarrier(%#x)", 1<<bit), unix.SYS_MEMBARRIER, 1<<bit, 0, 0); err != nil {
			return fmt.Errorf("restore membarrier registration %#x: %w", 1<<bit, err)
		}
	}
	return nil
}

// Restop sends task pid (vpid in the images) that was stopped at dump (TASK_STOPPED) its stop
// signal, while it is still traced: it stops as soon as it is detached.
// A signal that is not a stop signal (an older image) is SIGSTOP, as in
// CRIU.
func Restop(pid, vpid int, tc *images.TaskCoreEntry) error {
	if tc.GetTaskState() != StateStopped {
		return nil
	}
	sig := unix.Signal(tc.GetStopSigno())
	switch sig {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
	default:
		sig = unix.SIGSTOP
	}
	if err := unix.Kill(pid, sig); err != nil {
		return fmt.Errorf("stop %d with %v: %w", vpid, sig, os.NewSyscallError("kill", err))
	}
	return nil
}

// SetLoginuid gives the task its audit login uid, which it would
// otherwise inherit from the restorer. The kernel lets only the task
// itself write /proc/PID/loginuid, so the write is injected; setting it
// needs CAP_AUDIT_CONTROL, which the task still holds (the restorer's
// creds). Its threads, cloned after, inherit it.
func SetLoginuid(t Task, pid int, tc *images.TaskCoreEntry) error {
	if tc.Loginuid == nil {
		return nil
	}
	want := strconv.FormatUint(uint64(tc.GetLoginuid()), 10)
	if cur, err := procfs.ReadTrim(procfs.Path(pid, "loginuid")); err == nil && cur == want {
		return nil
	}
	p, err := cstring(t, 0, "/proc/self/loginuid")
	if err != nil {
		return err
	}
	fd, err := t.Sys("openat /proc/self/loginuid", unix.SYS_OPENAT, atFdcwd, p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("restore loginuid %s: %w", want, err)
	}
	if err := t.WriteScratch(256, []byte(want)); err != nil {
		return err
	}
	_, werr := t.Sys("write loginuid", unix.SYS_WRITE, fd, t.Scratch()+256, uint64(len(want)))
	if _, err := t.Sys("close", unix.SYS_CLOSE, fd); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("restore loginuid %s: %w", want, werr)
	}
	return nil
}

// sigactionSignals maps the entries of task_core sigactions to signal
// numbers. CRIU writes 62 (signals 1 to 64 but SIGKILL and SIGSTOP);
// images of this tool before it had 64, one per signal.
func sigactionSignals(n int) ([]int, error) {
	var sigs []int
	for sig := 1; sig <= 64; sig++ {
		if n == 62 && (sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP)) {
			continue
		}
		sigs = append(sigs, sig)
	}
	if n != 0 && n != len(sigs) {
		return nil, fmt.Errorf("%w: %d sigactions, want 62 (or 64)", errdefs.ErrBadImage, n)
	}
	return sigs, nil
}

// RestorePosixTimers creates the POSIX timers of tc with their ids, in
// the leader of t, once every thread exists: a SIGEV_THREAD_ID timer
// names its thread.
func RestorePosixTimers(t Task, tc *images.TaskCoreEntry) error {
	le := binary.LittleEndian
	pts := tc.GetTimers().GetPosix()
	if len(pts) == 0 {
		return nil
	}
	if _, err := t.Sys("prctl(PR_TIMER_CREATE_RESTORE_IDS)", unix.SYS_PRCTL, prTimerCreateRestoreIDs, 1); err != nil {
		return fmt.Errorf("%w: POSIX timers need PR_TIMER_CREATE_RESTORE_IDS: %v", errdefs.ErrUnsupported, err)
	}
	for _, pt := range pts {
		// struct sigevent: value, signo, notify, tid.
		ev := make([]byte, 64)
		le.PutUint64(ev[0:], pt.GetSivalPtr())
		le.PutUint32(ev[8:], pt.GetSiSigno())
		le.PutUint32(ev[12:], pt.GetItSigevNotify())
		le.PutUint32(ev[16:], uint32(pt.GetNotifyThreadId()))
		id := make([]byte, 4)
		le.PutUint32(id, pt.GetItId())
		if err := t.WriteScratch(0, ev); err != nil {
			return err
		}
		if err := t.WriteScratch(64, id); err != nil {
			return err
		}
		if _, err := t.Sys("timer_create", unix.SYS_TIMER_CREATE, uint64(pt.GetClockId()), t.Scratch(), t.Scratch()+64); err != nil {
			return err
		}
		vs, vns := pt.GetVsec(), pt.GetVnsec()
		if vs == 0 && vns == 0 {
			vs, vns = pt.GetIsec(), pt.GetInsec()
		}
		if vs == 0 && vns == 0 {
			continue
		}
		its := make([]byte, 32)
		le.PutUint64(its[0:], pt.GetIsec())
		le.PutUint64(its[8:], pt.GetInsec())
		le.PutUint64(its[16:], vs)
		le.PutUint64(its[24:], vns)
		if err := t.WriteScratch(128, its); err != nil {
			return err
		}
		if _, err := t.Sys("timer_settime", unix.SYS_TIMER_SETTIME, uint64(pt.GetItId()), 0, t.Scratch()+128, 0); err != nil {
			return err
		}
	}
	_, err := t.Sys("prctl(PR_TIMER_CREATE_RESTORE_IDS)", unix.SYS_PRCTL, prTimerCreateRestoreIDs, 0)
	return err
}

// QueueSignal re-queues a dumped pending signal from inside the thread
// (the kernel only accepts a forged siginfo sent to oneself). tid is the
// thread's id in the images, as the thread sees it.
func QueueSignal(t Task, in *ptrace.Injector, vpid, tid int, si []byte, shared bool) error {
	if len(si) != 128 {
		return fmt.Errorf("%w: siginfo of %d bytes", errdefs.ErrBadImage, len(si))
	}
	if err := t.WriteScratch(1024, si); err != nil {
		return err
	}
	sig := uint64(binary.LittleEndian.Uint32(si))
	if shared {
		_, err := in.Syscall("rt_sigqueueinfo", unix.SYS_RT_SIGQUEUEINFO, uint64(vpid), sig, t.Scratch()+1024)
		return err
	}
	_, err := in.Syscall("rt_tgsigqueueinfo", unix.SYS_RT_TGSIGQUEUEINFO, uint64(vpid), uint64(tid), sig, t.Scratch()+1024)
	return err
}

// RegsFromImage is the registers of a thread as its core holds them.
func RegsFromImage(g *images.UserX86RegsEntry) ptrace.Regs {
	return ptrace.Regs{
		R15: g.GetR15(), R14: g.GetR14(), R13: g.GetR13(), R12: g.GetR12(), Rbp: g.GetBp(), Rbx: g.GetBx(),
		R11: g.GetR11(), R10: g.GetR10(), R9: g.GetR9(), R8: g.GetR8(), Rax: g.GetAx(), Rcx: g.GetCx(),
		Rdx: g.GetDx(), Rsi: g.GetSi(), Rdi: g.GetDi(), Orig_rax: ^uint64(0), Rip: g.GetIp(), Cs: g.GetCs(),
		Eflags: g.GetFlags(), Rsp: g.GetSp(), Ss: g.GetSs(), Fs_base: g.GetFsBase(), Gs_base: g.GetGsBase(),
		Ds: g.GetDs(), Es: g.GetEs(), Fs: g.GetFs(), Gs: g.GetGs(),
	}
}

// SetThread gives thread vtid of task t (vpid; in injects into the
// thread) the kernel state of its core, before its seccomp filters and
// creds: robust futex list, clear-tid address, sigaltstack, rseq, name,
// pending signals; the leader (leader true) also the process-wide ones
// of leaderCore, and the process's name when the thread has none.
func SetThread(t Task, in *ptrace.Injector, vpid, vtid int, leader bool, core, leaderCore *images.CoreEntry) error {
	ti := core.GetThreadInfo()
	tc := core.GetThreadCore()
	// One batch (ptrace.Injector.Batch); the arguments in scratch first.
	var calls []ptrace.Call
	if tc.GetFutexRla() != 0 {
		calls = append(calls, ptrace.Call{Name: "set_robust_list", Nr: unix.SYS_SET_ROBUST_LIST, Args: []uint64{tc.GetFutexRla(), uint64(tc.GetFutexRlaLen())}})
	}
	calls = append(calls, ptrace.Call{Name: "set_tid_address", Nr: unix.SYS_SET_TID_ADDRESS, Args: []uint64{ti.GetClearTidAddr()}})
	if sas := tc.GetSas(); sas != nil && sas.GetSsFlags()&linux.SS_DISABLE == 0 && sas.GetSsSize() != 0 {
		ss := linux.StackT{Sp: sas.GetSsSp(), Flags: sas.GetSsFlags() & linux.SS_AUTODISARM, Size: sas.GetSsSize()}
		if err := t.WriteScratch(512, ss.Bytes()); err != nil {
			return err
		}
		calls = append(calls, ptrace.Call{Name: "sigaltstack", Nr: unix.SYS_SIGALTSTACK, Args: []uint64{t.Scratch() + 512, 0}})
	}
	if rs := tc.GetRseqEntry(); rs != nil && rs.GetRseqAbiPointer() != 0 {
		calls = append(calls, ptrace.Call{Name: "rseq", Nr: unix.SYS_RSEQ, Args: []uint64{rs.GetRseqAbiPointer(), uint64(rs.GetRseqAbiSize()), 0, uint64(rs.GetSignature())}})
	}
	comm := tc.GetComm()
	if leader && comm == "" {
		comm = leaderCore.GetTc().GetComm()
	}
	if comm != "" {
		p, err := cstring(t, 0, comm)
		if err != nil {
			return err
		}
		calls = append(calls, ptrace.Call{Name: "prctl(PR_SET_NAME)", Nr: unix.SYS_PRCTL, Args: []uint64{unix.PR_SET_NAME, p}})
	}
	if _, err := in.Batch(calls...); err != nil {
		return err
	}
	for _, si := range tc.GetSignalsP().GetSignals() {
		if err := QueueSignal(t, in, vpid, vtid, si.GetSiginfo(), false); err != nil {
			return err
		}
	}
	if leader {
		for _, si := range leaderCore.GetTc().GetSignalsS().GetSignals() {
			if err := QueueSignal(t, in, vpid, vtid, si.GetSiginfo(), true); err != nil {
				return err
			}
		}
	}
	return nil
}

// RestoreProcess sets the process-wide state of the task t (host pid
// pid, vpid in its pid namespace) from its task core tc, in order:
// signal handlers, personality, oom_score_adj, the child-subreaper flag,
// umask, cwd (a path from criu's root: the root is changed last, once
// every file is open), rlimits, interval timers, membarrier
// registrations, login uid. POSIX timers come once the threads exist
// (RestorePosixTimers); session and process group are the tree's.
func RestoreProcess(t Task, pid, vpid int, tc *images.TaskCoreEntry, umask uint32, cwd string, log zerolog.Logger) error {
	if err := SetSigactions(t, pid, tc); err != nil {
		return err
	}
	if err := SetPersonality(t, tc); err != nil {
		return err
	}
	if err := SetOOMScoreAdj(pid, vpid, tc, log); err != nil {
		return err
	}
	if err := SetChildSubreaper(t, tc); err != nil {
		return err
	}
	if _, err := t.Sys("umask", unix.SYS_UMASK, uint64(umask)); err != nil {
		return err
	}
	if len(cwd)+1 > mem.PageSize {
		return fmt.Errorf("cwd too long: %q", cwd)
	}
	if err := t.WriteScratch(0, append([]byte(cwd), 0)); err != nil {
		return err
	}
	if _, err := t.Sys("chdir "+cwd, unix.SYS_CHDIR, t.Scratch()); err != nil {
		return err
	}
	SetRlimits(pid, tc, log)
	if err := SetItimers(t, tc); err != nil {
		return err
	}
	if err := SetMembarrier(t, tc); err != nil {
		return err
	}
	return SetLoginuid(t, pid, tc)
}

// Ready is what is set last in a restored thread (SetReady), once every
// thread of its task has the rest of its state: its registers, xstate
// and signal mask.
type Ready struct {
	Tid  int
	Regs ptrace.Regs
	Xs   []byte
	Mask uint64
}

// RestoreThread sets the own state of thread tid (vtid in the images) of
// task t (host pid pid, vpid in the images; leader: tid is its main
// thread) from its core and its
// leader's (SetThread), its seccomp filters (sc: the last but for the
// creds, which would drop the CAP_SYS_ADMIN that installing them needs
// without no_new_privs; what is injected after runs with them
// suspended), creds and the rest (SetThreadMisc), by calls injected at
// ip, and returns its Ready. It runs on the tracer thread.
func RestoreThread(t Task, tr *ptrace.Tracer, ip uint64, sc *seccomp.Plan, pid, vpid, tid, vtid int, leader bool, core, leaderCore *images.CoreEntry) (Ready, error) {
	tc := core.GetThreadCore()
	base, err := tr.GetRegs(tid)
	if err != nil {
		return Ready{}, err
	}
	in := &ptrace.Injector{T: tr, Tid: tid, Base: base, IP: ip}
	if err := SetThread(t, in, vpid, vtid, leader, core, leaderCore); err != nil {
		return Ready{}, err
	}
	if err := sc.Install(in, vtid); err != nil {
		return Ready{}, fmt.Errorf("thread %d: %w", tid, err)
	}
	if err := SetCreds(t, in, pid, tid, tc.GetCreds()); err != nil {
		return Ready{}, fmt.Errorf("thread %d: %w", tid, err)
	}
	if err := SetThreadMisc(in, tid, tc); err != nil {
		return Ready{}, fmt.Errorf("thread %d: %w", tid, err)
	}
	mask := tc.GetBlkSigset()
	if tc.BlkSigset == nil && leader {
		mask = core.GetTc().GetBlkSigset()
	}
	ti := core.GetThreadInfo()
	return Ready{Tid: tid, Regs: RegsFromImage(ti.GetGpregs()), Xs: ptrace.XstateFromFpregs(ti.GetFpregs()), Mask: mask}, nil
}

// SetReady sets each thread's Ready state.
func SetReady(tr *ptrace.Tracer, ready []Ready) error {
	for _, p := range ready {
		if err := tr.SetXstate(p.Tid, p.Xs); err != nil {
			return fmt.Errorf("thread %d: %w", p.Tid, err)
		}
		if err := tr.SetRegs(p.Tid, p.Regs); err != nil {
			return fmt.Errorf("thread %d: %w", p.Tid, err)
		}
		if err := tr.SetSigmask(p.Tid, p.Mask); err != nil {
			return fmt.Errorf("thread %d: %w", p.Tid, err)
		}
	}
	return nil
}
