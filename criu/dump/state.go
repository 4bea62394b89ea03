package dump

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

// Kernel restart codes (include/linux/errno.h), seen in rax of a thread
// stopped inside a syscall.
const (
	errRestartSys    = 512
	errRestartNoIntr = 513
	errRestartNoHand = 514
	errRestartBlock  = 516
	nrRestartSyscall = 219
)

// scratch is a page mapped shared-anonymous into the task for the
// duration of the dump: injected syscalls write their results there.
type scratch struct {
	addr uint64
	size uint64
}

const scratchSize = 2 * mem.PageSize

// injector returns an injector for th at the task's syscall instruction.
func (d *dumper) injector(th *thread) *ptrace.Injector {
	return &ptrace.Injector{T: d.tr, Tid: th.tid, Base: th.regs, IP: d.sysIP}
}

// readScratch reads n bytes at offset off of the scratch area.
func (d *dumper) readScratch(off, n uint64) ([]byte, error) {
	b := make([]byte, n)
	err := mem.ReadRemote(d.pid, []mem.Range{{Start: d.scr.addr + off, End: d.scr.addr + off + n}}, b)
	return b, err
}

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

// dumpThread reads one thread's state into a core entry.
func (d *dumper) dumpThread(th *thread) (*images.CoreEntry, error) {
	tid := th.tid
	xs, err := d.tr.GetXstate(tid)
	if err != nil {
		return nil, err
	}
	rseq, err := d.tr.GetRseq(tid)
	if err != nil {
		return nil, err
	}
	pend, err := d.tr.PendingSignals(tid, false)
	if err != nil {
		return nil, err
	}
	head, hlen, err := ptrace.RobustList(tid)
	if err != nil {
		return nil, err
	}
	in := d.injector(th)
	if _, err := in.Syscall("prctl(PR_GET_TID_ADDRESS)", unix.SYS_PRCTL, unix.PR_GET_TID_ADDRESS, d.scr.addr); err != nil {
		return nil, err
	}
	if _, err := in.Syscall("sigaltstack", unix.SYS_SIGALTSTACK, 0, d.scr.addr+8); err != nil {
		return nil, err
	}
	if _, err := in.Syscall("prctl(PR_GET_PDEATHSIG)", unix.SYS_PRCTL, unix.PR_GET_PDEATHSIG, d.scr.addr+64); err != nil {
		return nil, err
	}
	secbits, err := in.Syscall("prctl(PR_GET_SECUREBITS)", unix.SYS_PRCTL, unix.PR_GET_SECUREBITS)
	if err != nil {
		return nil, err
	}
	b, err := d.readScratch(0, 68)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	clearTid := le.Uint64(b[0:])
	ssSp, ssFlags, ssSize := le.Uint64(b[8:]), le.Uint32(b[16:]), le.Uint64(b[24:])
	pdeath := le.Uint32(b[64:])
	policy, nice, prio, err := schedOf(tid)
	if err != nil {
		return nil, err
	}
	if err := checkThreadMisc(tid); err != nil {
		return nil, err
	}

	task := fmt.Sprintf("task/%d/", tid)
	comm, err := procfs.ReadComm(procfs.Path(d.pid, task+"comm"))
	if err != nil {
		return nil, err
	}
	st, err := procfs.ReadStatusFile(procfs.Path(d.pid, task+"status"))
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
		BlkSigset:   proto.Uint64(th.mask),
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
			Gpregs:       gpregs(th.regs),
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

// dumpTaskCore reads the process-wide state kept in the leader's core:
// sigactions, shared pending signals, timers, rlimits, personality,
// oom_score_adj, the child-subreaper flag.
func (d *dumper) dumpTaskCore(leader *thread) (*images.TaskCoreEntry, error) {
	in := d.injector(leader)
	le := binary.LittleEndian
	// Each injected call costs tens of microseconds of frozen time, so
	// only the signals that have a handler (SigCgt), and SIGCHLD (whose
	// SA_NOCLDWAIT/SA_NOCLDSTOP matter even without one), are asked for;
	// the others are SIG_IGN (SigIgn) or SIG_DFL with no flags, mask or
	// restorer. Flags set on a default or ignored signal other than
	// SIGCHLD are not kept: they change nothing but what sigaction()
	// reports.
	pst, err := procfs.ReadStatus(d.pid)
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
	for sig := 1; sig <= 64; sig++ {
		if !ask(sig) {
			continue
		}
		if _, err := in.Syscall("rt_sigaction", unix.SYS_RT_SIGACTION, uint64(sig), 0, d.scr.addr+uint64(sig)*32, 8); err != nil {
			return nil, err
		}
	}
	b, err := d.readScratch(0, 65*32)
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
		e := b[sig*32:]
		sa := &images.SaEntry{
			Sigaction: proto.Uint64(le.Uint64(e[0:])),
			Flags:     proto.Uint64(le.Uint64(e[8:])),
			Restorer:  proto.Uint64(le.Uint64(e[16:])),
			Mask:      proto.Uint64(le.Uint64(e[24:])),
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
		if _, err := in.Syscall("getitimer", unix.SYS_GETITIMER, uint64(which), d.scr.addr+uint64(which)*32); err != nil {
			return nil, err
		}
	}
	b, err = d.readScratch(0, 96)
	if err != nil {
		return nil, err
	}
	for which := 0; which < 3; which++ {
		e := b[which*32:]
		its[which] = &images.ItimerEntry{
			Isec: proto.Uint64(le.Uint64(e[0:])), Iusec: proto.Uint64(le.Uint64(e[8:])),
			Vsec: proto.Uint64(le.Uint64(e[16:])), Vusec: proto.Uint64(le.Uint64(e[24:])),
		}
	}
	timers := &images.TaskTimersEntry{Real: its[0], Virt: its[1], Prof: its[2]}
	// POSIX timers.
	pts, err := procfs.ReadTimers(d.pid)
	if err != nil {
		return nil, err
	}
	{
		for _, pt := range pts {
			if _, err := in.Syscall("timer_gettime", unix.SYS_TIMER_GETTIME, uint64(pt.ID), d.scr.addr); err != nil {
				return nil, err
			}
			ov, err := in.Syscall("timer_getoverrun", unix.SYS_TIMER_GETOVERRUN, uint64(pt.ID))
			if err != nil {
				return nil, err
			}
			b, err := d.readScratch(0, 32)
			if err != nil {
				return nil, err
			}
			// A SIGEV_THREAD_ID timer names the thread to signal;
			// it must be one of the task's own.
			notifyID := d.vpid
			if pt.ToThread {
				th := d.threadOf(pt.NotifyID)
				if th == nil {
					return nil, fmt.Errorf("POSIX timer %d notifies thread %d, which is not a thread of %d", pt.ID, pt.NotifyID, d.pid)
				}
				notifyID = th.vtid
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
	lf, err := os.Open(procfs.Path(d.pid, "limits"))
	if err != nil {
		return nil, err
	}
	lims, err := procfs.ParseLimits(lf)
	lf.Close()
	if err != nil {
		return nil, err
	}
	rl := &images.TaskRlimitsEntry{}
	for _, lim := range lims {
		rl.Rlimits = append(rl.Rlimits, &images.RlimitEntry{Cur: proto.Uint64(lim.Cur), Max: proto.Uint64(lim.Max)})
	}
	shared, err := d.tr.PendingSignals(leader.tid, true)
	if err != nil {
		return nil, err
	}
	persv, err := procfs.ReadPersonality(d.pid)
	if err != nil {
		return nil, err
	}
	comm, err := procfs.ReadComm(procfs.Path(d.pid, "comm"))
	if err != nil {
		return nil, err
	}
	membarrier, err := d.membarrierRegistrations(in)
	if err != nil {
		return nil, err
	}
	if err := d.checkTaskMisc(); err != nil {
		return nil, err
	}
	loginuid, err := readLoginuid(d.pid)
	if err != nil {
		return nil, err
	}
	oom, err := readOOMScoreAdj(d.pid)
	if err != nil {
		return nil, err
	}
	subreaper, err := d.childSubreaper(in)
	if err != nil {
		return nil, err
	}
	tc := &images.TaskCoreEntry{
		TaskState:      proto.Uint32(taskAlive),
		ExitCode:       proto.Uint32(0),
		Personality:    proto.Uint32(uint32(persv)),
		Flags:          proto.Uint32(uint32(d.stat.Flags)),
		BlkSigset:      proto.Uint64(leader.mask),
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
	if sig := stopSignal(d.tr, d.threads); sig != 0 {
		tc.TaskState = proto.Uint32(taskStopped)
		tc.StopSigno = proto.Uint32(uint32(sig))
	}
	return tc, nil
}
