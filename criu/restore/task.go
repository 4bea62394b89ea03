package restore

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

var atFdcwd = func() uint64 { v := int64(unix.AT_FDCWD); return uint64(v) }()

const prTimerCreateRestoreIDs = 77

// restoreTask sets the process-wide state: signal handlers, timers,
// rlimits, personality, oom_score_adj, the child-subreaper flag, umask,
// cwd, root, session.
func (r *restorer) restoreTask() error {
	tc := r.sn.cores[uint32(r.vpid)].GetTc()
	le := binary.LittleEndian
	for i, sa := range tc.GetSigactions() {
		sig := i + 1
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		b := make([]byte, 32)
		le.PutUint64(b[0:], sa.GetSigaction())
		le.PutUint64(b[8:], sa.GetFlags())
		le.PutUint64(b[16:], sa.GetRestorer())
		le.PutUint64(b[24:], sa.GetMask())
		if err := r.writeScratch(0, b); err != nil {
			return err
		}
		if _, err := r.sys("rt_sigaction", unix.SYS_RT_SIGACTION, uint64(sig), r.scr, 0, 8); err != nil {
			return err
		}
	}
	// Also when it is 0: the stub kept the restorer's personality across
	// exec (criu run under setarch -R gives it ADDR_NO_RANDOMIZE).
	if _, err := r.sys("personality", unix.SYS_PERSONALITY, uint64(tc.GetPersonality())); err != nil {
		return err
	}
	if err := r.restoreOOMScoreAdj(tc); err != nil {
		return err
	}
	if err := r.restoreChildSubreaper(tc); err != nil {
		return err
	}
	if _, err := r.sys("umask", unix.SYS_UMASK, uint64(r.sn.fs.GetUmask())); err != nil {
		return err
	}
	cwd, _, err := r.filePath(r.sn.fs.GetCwdId())
	if err != nil {
		return err
	}
	p, err := r.cstring(0, cwd)
	if err != nil {
		return err
	}
	if _, err := r.sys("chdir "+cwd, unix.SYS_CHDIR, p); err != nil {
		return err
	}
	// The root is changed last (chroot), once every file is open: the
	// paths of the images are from criu's root.
	// Rlimits from outside; raising a hard limit needs CAP_SYS_RESOURCE.
	for res, rl := range tc.GetRlimits().GetRlimits() {
		lim := unix.Rlimit{Cur: rl.GetCur(), Max: rl.GetMax()}
		if err := unix.Prlimit(r.pid, res, &lim, nil); err != nil {
			r.log.Warn().Int("resource", res).Err(err).Msg("prlimit")
		}
	}
	// Timers.
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
		if err := r.writeScratch(0, b); err != nil {
			return err
		}
		if _, err := r.sys("setitimer", unix.SYS_SETITIMER, uint64(which), r.scr, 0); err != nil {
			return err
		}
	}
	if pts := tm.GetPosix(); len(pts) > 0 {
		if _, err := r.sys("prctl(PR_TIMER_CREATE_RESTORE_IDS)", unix.SYS_PRCTL, prTimerCreateRestoreIDs, 1); err != nil {
			return fmt.Errorf("%w: POSIX timers need PR_TIMER_CREATE_RESTORE_IDS: %v", ErrUnsupported, err)
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
			if err := r.writeScratch(0, ev); err != nil {
				return err
			}
			if err := r.writeScratch(64, id); err != nil {
				return err
			}
			if _, err := r.sys("timer_create", unix.SYS_TIMER_CREATE, uint64(pt.GetClockId()), r.scr, r.scr+64); err != nil {
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
			if err := r.writeScratch(128, its); err != nil {
				return err
			}
			if _, err := r.sys("timer_settime", unix.SYS_TIMER_SETTIME, uint64(pt.GetItId()), 0, r.scr+128, 0); err != nil {
				return err
			}
		}
		if _, err := r.sys("prctl(PR_TIMER_CREATE_RESTORE_IDS)", unix.SYS_PRCTL, prTimerCreateRestoreIDs, 0); err != nil {
			return err
		}
	}
	// Session and process group are set by the tree (tree.go).
	return nil
}

// restoreFiles closes the stub's fds and opens the dumped ones.
func (r *restorer) restoreFiles() error {
	if r.sn.sharedFds {
		return nil // the parent's table, restored by the parent
	}
	want := map[int]bool{}
	// extSrc: the stdio fd that keeps the restorer's file for each
	// external file id, the lowest of 0-2 holding it.
	extSrc := map[uint32]int{}
	for _, fi := range r.sn.fdinfo {
		if fi.GetType() == images.FdTypes_EXT {
			if !r.opts.ShellJob {
				return fmt.Errorf("%w: fd %d was inherited from a shell: restore with --shell-job", ErrUnsupported, fi.GetFd())
			}
			if fd := int(fi.GetFd()); fd <= 2 {
				want[fd] = true
				if s, ok := extSrc[fi.GetId()]; !ok || fd < s {
					extSrc[fi.GetId()] = fd
				}
			}
		}
	}
	if err := r.closeInherited(want); err != nil {
		return err
	}
	for _, fi := range r.sn.fdinfo {
		fd := uint64(fi.GetFd())
		switch fi.GetType() {
		case images.FdTypes_EXT:
			if fd > 2 {
				// A dup of an inherited stdio fd.
				src, ok := extSrc[fi.GetId()]
				if !ok {
					return fmt.Errorf("%w: external fd %d is not a dup of fds 0-2", ErrBadImage, fd)
				}
				cloexec := uint64(0)
				if fi.GetFlags()&unix.FD_CLOEXEC != 0 {
					cloexec = unix.O_CLOEXEC
				}
				if _, err := r.sys("dup3", unix.SYS_DUP3, uint64(src), fd, cloexec); err != nil {
					return err
				}
				continue
			}
			if fi.GetFlags()&unix.FD_CLOEXEC != 0 {
				if _, err := r.sys("fcntl", unix.SYS_FCNTL, fd, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
					return err
				}
			}
			continue
		case images.FdTypes_REG:
			if _, ok := r.t.masters[fi.GetId()]; ok {
				if err := r.installShared(fi); err != nil {
					return err
				}
				continue
			}
		default:
			if _, ok := r.t.masters[fi.GetId()]; ok {
				if err := r.installShared(fi); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%w: fd %d of type %v", ErrUnsupported, fd, fi.GetType())
		}
		path, reg, err := r.filePath(fi.GetId())
		if err != nil {
			return err
		}
		p, err := r.cstring(0, path)
		if err != nil {
			return err
		}
		flags := uint64(reg.GetFlags()) &^ (unix.O_CREAT | unix.O_TRUNC | unix.O_EXCL)
		tmp, err := r.sys("openat "+path, unix.SYS_OPENAT, atFdcwd, p, flags, 0)
		if err != nil {
			return fmt.Errorf("restore fd %d: %w", fd, err)
		}
		if reg.GetPos() != 0 {
			if _, err := r.sys("lseek", unix.SYS_LSEEK, tmp, reg.GetPos(), 0); err != nil {
				return err
			}
		}
		cloexec := uint64(0)
		if fi.GetFlags()&unix.FD_CLOEXEC != 0 {
			cloexec = unix.O_CLOEXEC
		}
		if tmp != fd {
			if _, err := r.sys("dup3", unix.SYS_DUP3, tmp, fd, cloexec); err != nil {
				return err
			}
			r.sys("close", unix.SYS_CLOSE, tmp)
		} else if cloexec != 0 {
			if _, err := r.sys("fcntl", unix.SYS_FCNTL, fd, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeInherited closes every fd the task holds that is not in want:
// the stub inherited criu's fds 0-2 and also every fd of criu's that
// is not close-on-exec (one the shell running criu left open, a
// harness's pipes), and a restored task must hold only the fds of its
// images. The restorer's pidfd in the task, if it has one yet, stays.
func (r *restorer) closeInherited(want map[int]bool) error {
	ents, err := os.ReadDir(procfs.Path(r.pid, "fd"))
	if err != nil {
		return fmt.Errorf("list fds of %d: %w", r.pid, err)
	}
	pidfd, hasPidfd := r.t.pidfds[r.pid]
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || want[fd] || hasPidfd && uint64(fd) == pidfd {
			continue
		}
		if _, err := r.sys("close", unix.SYS_CLOSE, uint64(fd)); err != nil {
			return fmt.Errorf("close inherited fd %d: %w", fd, err)
		}
	}
	return nil
}

// restoreRoot changes the task's root to its dumped one (a task that
// had chroot()ed), once per fs (tasks and threads sharing it with
// CLONE_FS share the root). It runs after every file of the tree is
// open by its path from criu's root, before the creds are set (chroot
// needs CAP_SYS_CHROOT).
func (r *restorer) restoreRoot() error {
	id := r.sn.ids.GetFsId()
	if r.t.rootDone[id] {
		return nil
	}
	r.t.rootDone[id] = true
	root, _, err := r.filePath(r.sn.fs.GetRootId())
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if root == "/" {
		return nil
	}
	p, err := r.cstring(0, root)
	if err != nil {
		return err
	}
	if _, err := r.sys("chroot "+root, unix.SYS_CHROOT, p); err != nil {
		return fmt.Errorf("restore root: %w", err)
	}
	return nil
}

// restoreThreads clones every other thread with its tid.
func (r *restorer) restoreThreads() error {
	le := binary.LittleEndian
	for _, tid := range r.sn.pst.GetThreads()[1:] {
		b := make([]byte, 96)
		flags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM)
		le.PutUint64(b[0:], flags)
		le.PutUint64(b[64:], r.scr+88)
		le.PutUint64(b[72:], 1)
		le.PutUint64(b[88:], uint64(tid))
		if err := r.writeScratch(0, b); err != nil {
			return err
		}
		r.in.Cloned = r.in.Cloned[:0]
		got, err := r.sys("clone3(thread)", unix.SYS_CLONE3, r.scr, 88)
		if err != nil {
			if err, ok := err.(*ptrace.SyscallError); ok && err.Err == unix.EEXIST {
				return fmt.Errorf("thread %d: %w", tid, ErrPidTaken)
			}
			return err
		}
		if int(got) != int(tid) {
			return fmt.Errorf("clone3 gave tid %d, want %d", got, tid)
		}
		// clone3 returns the tid in the task's namespace; the clone
		// event, the host's.
		htid := int(tid)
		if r.t.pidns() {
			if len(r.in.Cloned) == 0 {
				return fmt.Errorf("clone3 of thread %d: no clone event", tid)
			}
			htid = r.in.Cloned[len(r.in.Cloned)-1]
		}
		r.tids = append(r.tids, htid)
		r.vtids = append(r.vtids, int(tid))
		if _, err := r.tr.WaitStop(htid); err != nil {
			return err
		}
	}
	return nil
}

// finish sets each thread's own state and registers, then lets them go.
func (r *restorer) finish() error {
	le := binary.LittleEndian
	type prepared struct {
		tid  int
		regs ptrace.Regs
		xs   []byte
		mask uint64
	}
	if err := r.restoreFowns(); err != nil {
		return err
	}
	if err := r.restoreRoot(); err != nil {
		return err
	}
	var ready []prepared
	for i, tid := range r.tids {
		vtid := r.vtids[i]
		core := r.sn.cores[uint32(vtid)]
		ti := core.GetThreadInfo()
		tc := core.GetThreadCore()
		base, err := r.tr.GetRegs(tid)
		if err != nil {
			return err
		}
		in := &ptrace.Injector{T: r.tr, Tid: tid, Base: base, IP: r.in.IP}
		if tc.GetFutexRla() != 0 {
			if _, err := in.Syscall("set_robust_list", unix.SYS_SET_ROBUST_LIST, tc.GetFutexRla(), uint64(tc.GetFutexRlaLen())); err != nil {
				return err
			}
		}
		if _, err := in.Syscall("set_tid_address", unix.SYS_SET_TID_ADDRESS, ti.GetClearTidAddr()); err != nil {
			return err
		}
		if sas := tc.GetSas(); sas != nil && sas.GetSsFlags()&2 == 0 /* SS_DISABLE */ && sas.GetSsSize() != 0 {
			b := make([]byte, 24)
			le.PutUint64(b[0:], sas.GetSsSp())
			le.PutUint32(b[8:], sas.GetSsFlags()&(1<<31)) // SS_AUTODISARM
			le.PutUint64(b[16:], sas.GetSsSize())
			if err := r.writeScratch(512, b); err != nil {
				return err
			}
			if _, err := in.Syscall("sigaltstack", unix.SYS_SIGALTSTACK, r.scr+512, 0); err != nil {
				return err
			}
		}
		if rs := tc.GetRseqEntry(); rs != nil && rs.GetRseqAbiPointer() != 0 {
			if _, err := in.Syscall("rseq", unix.SYS_RSEQ, rs.GetRseqAbiPointer(), uint64(rs.GetRseqAbiSize()), 0, uint64(rs.GetSignature())); err != nil {
				return err
			}
		}
		comm := tc.GetComm()
		if tid == r.pid && comm == "" {
			comm = core.GetTc().GetComm()
		}
		if comm != "" {
			p, err := r.cstring(0, comm)
			if err != nil {
				return err
			}
			if _, err := in.Syscall("prctl(PR_SET_NAME)", unix.SYS_PRCTL, unix.PR_SET_NAME, p); err != nil {
				return err
			}
		}
		for _, si := range tc.GetSignalsP().GetSignals() {
			if err := r.queueSignal(in, vtid, si.GetSiginfo(), false); err != nil {
				return err
			}
		}
		if tid == r.pid {
			for _, si := range core.GetTc().GetSignalsS().GetSignals() {
				if err := r.queueSignal(in, vtid, si.GetSiginfo(), true); err != nil {
					return err
				}
			}
		}
		if err := r.setCreds(in, tid, tc.GetCreds()); err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
		if err := r.setThreadMisc(in, tid, tc); err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
		mask := tc.GetBlkSigset()
		if tc.BlkSigset == nil && tid == r.pid {
			mask = core.GetTc().GetBlkSigset()
		}
		ready = append(ready, prepared{tid: tid, regs: regsFromImage(ti.GetGpregs()), xs: ptrace.XstateFromFpregs(ti.GetFpregs()), mask: mask})
	}
	// After every thread's creds: changing ids resets dumpable.
	if err := r.setProcessMisc(); err != nil {
		return err
	}
	if _, err := r.sys("munmap", unix.SYS_MUNMAP, r.scr, scratchSize); err != nil {
		return err
	}
	for _, p := range ready {
		if err := r.tr.SetXstate(p.tid, p.xs); err != nil {
			return fmt.Errorf("thread %d: %w", p.tid, err)
		}
		if err := r.tr.SetRegs(p.tid, p.regs); err != nil {
			return fmt.Errorf("thread %d: %w", p.tid, err)
		}
		if err := r.tr.SetSigmask(p.tid, p.mask); err != nil {
			return fmt.Errorf("thread %d: %w", p.tid, err)
		}
	}
	return nil
}

// detach lets every thread of the task run.
func (r *restorer) detach() error {
	for _, tid := range r.tids {
		if err := r.tr.Detach(tid, 0); err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}

// queueSignal re-queues a dumped pending signal from inside the thread
// (the kernel only accepts a forged siginfo sent to oneself). tid is the
// thread's id in the images, as the thread sees it.
func (r *restorer) queueSignal(in *ptrace.Injector, tid int, si []byte, shared bool) error {
	if len(si) != 128 {
		return fmt.Errorf("%w: siginfo of %d bytes", ErrBadImage, len(si))
	}
	if err := r.writeScratch(1024, si); err != nil {
		return err
	}
	sig := uint64(binary.LittleEndian.Uint32(si))
	if shared {
		_, err := in.Syscall("rt_sigqueueinfo", unix.SYS_RT_SIGQUEUEINFO, uint64(r.vpid), sig, r.scr+1024)
		return err
	}
	_, err := in.Syscall("rt_tgsigqueueinfo", unix.SYS_RT_TGSIGQUEUEINFO, uint64(r.vpid), uint64(tid), sig, r.scr+1024)
	return err
}

func regsFromImage(g *images.UserX86RegsEntry) ptrace.Regs {
	return ptrace.Regs{
		R15: g.GetR15(), R14: g.GetR14(), R13: g.GetR13(), R12: g.GetR12(), Rbp: g.GetBp(), Rbx: g.GetBx(),
		R11: g.GetR11(), R10: g.GetR10(), R9: g.GetR9(), R8: g.GetR8(), Rax: g.GetAx(), Rcx: g.GetCx(),
		Rdx: g.GetDx(), Rsi: g.GetSi(), Rdi: g.GetDi(), Orig_rax: ^uint64(0), Rip: g.GetIp(), Cs: g.GetCs(),
		Eflags: g.GetFlags(), Rsp: g.GetSp(), Ss: g.GetSs(), Fs_base: g.GetFsBase(), Gs_base: g.GetGsBase(),
		Ds: g.GetDs(), Es: g.GetEs(), Fs: g.GetFs(), Gs: g.GetGs(),
	}
}
