package restore

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/proto/images"
)

// restoreOOMScoreAdj writes the dumped oom_score_adj into
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
func (r *restorer) restoreOOMScoreAdj(tc *images.TaskCoreEntry) error {
	if tc.OomScoreAdj == nil {
		return nil // an image from a dumper that did not keep it
	}
	v := tc.GetOomScoreAdj()
	if v < -1000 || v > 1000 {
		return fmt.Errorf("%w: oom_score_adj %d out of -1000..1000", ErrBadImage, v)
	}
	name := procfs.Path(r.pid, "oom_score_adj")
	err := os.WriteFile(name, []byte(strconv.Itoa(int(v))), 0)
	if errors.Is(err, unix.EACCES) {
		cur, _ := procfs.ReadTrim(name)
		r.log.Warn().Int("pid", r.vpid).Int32("oom_score_adj", v).Str("kept", cur).Err(err).
			Msgf("task %d: cannot set oom_score_adj %d without CAP_SYS_RESOURCE, keeping %s", r.vpid, v, cur)
		return nil
	}
	if err != nil {
		return fmt.Errorf("set oom_score_adj %d: %w", v, err)
	}
	return nil
}

// restoreChildSubreaper makes the restored task a child subreaper again
// with an injected prctl(PR_SET_CHILD_SUBREAPER, 1). Tasks start without
// the flag (it is not inherited by fork), so only a set flag needs work.
func (r *restorer) restoreChildSubreaper(tc *images.TaskCoreEntry) error {
	if !tc.GetChildSubreaper() {
		return nil
	}
	_, err := r.sys("prctl(PR_SET_CHILD_SUBREAPER)", unix.SYS_PRCTL, unix.PR_SET_CHILD_SUBREAPER, 1)
	return err
}

// restoreMembarrier registers the task's mm again for the membarrier
// commands it was registered for at dump (membarrier_registration_mask:
// MEMBARRIER_CMD_REGISTER_* bits), one injected membarrier() each.
func (r *restorer) restoreMembarrier(tc *images.TaskCoreEntry) error {
	mask := tc.GetMembarrierRegistrationMask()
	for bit := 0; bit < 32; bit++ {
		if mask&(1<<bit) == 0 {
			continue
		}
		if _, err := r.sys(fmt.Sprintf("membarrier(%#x)", 1<<bit), unix.SYS_MEMBARRIER, 1<<bit, 0, 0); err != nil {
			return fmt.Errorf("restore membarrier registration %#x: %w", 1<<bit, err)
		}
	}
	return nil
}

// Task states of task_core_entry.task_state.
const taskStopped = 3

// restop sends a task that was stopped at dump (TASK_STOPPED) its stop
// signal, while it is still traced: it stops as soon as it is detached.
// A signal that is not a stop signal (an older image) is SIGSTOP, as in
// CRIU.
func (r *restorer) restop() error {
	tc := r.sn.cores[uint32(r.vpid)].GetTc()
	if tc.GetTaskState() != taskStopped {
		return nil
	}
	sig := unix.Signal(tc.GetStopSigno())
	switch sig {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
	default:
		sig = unix.SIGSTOP
	}
	if err := unix.Kill(r.pid, sig); err != nil {
		return fmt.Errorf("stop %d with %v: %w", r.vpid, sig, os.NewSyscallError("kill", err))
	}
	return nil
}

// threadSeccomp is what seccomp state one thread is given.
type threadSeccomp struct {
	mode  uint32
	chain []*images.SeccompFilter
	// shared is how many of the oldest filters of chain are the
	// leader's own (equal programs and flags): the thread is cloned once
	// the leader has them, and inherits them shared, as a thread
	// created after its creator installed filters has them. installed
	// counts the filters of chain the thread has.
	shared, installed int
}

// seccompPlan is the seccomp state of a task's threads and the buffer
// in the task that carries each filter to the kernel.
type seccompPlan struct {
	leader int // its tid in the images
	byTid  map[int]*threadSeccomp
	buf    uint64 // 0 when no thread has filters
	size   uint64
}

// prepareSeccomp reads the threads' seccomp state from the images and,
// when any thread has one, suspends seccomp in the leader
// (PTRACE_O_SUSPEND_SECCOMP, until detach; the threads cloned from it
// inherit the option: what is injected after a filter must pass it) and
// maps a buffer for the filters in the task. It runs before the threads
// are cloned.
func (r *restorer) prepareSeccomp() (*seccompPlan, error) {
	p := &seccompPlan{leader: r.vpid, byTid: map[int]*threadSeccomp{}}
	var need uint64
	any := false
	for _, vtid := range r.sn.pst.GetThreads() {
		tc := r.sn.cores[vtid].GetThreadCore()
		ts := &threadSeccomp{mode: uint32(tc.GetSeccompMode())}
		if ts.mode == seccomp.ModeFilter {
			var err error
			if ts.chain, err = seccomp.Chain(r.t.ti.seccomp, tc.GetSeccompFilter()); err != nil {
				return nil, fmt.Errorf("thread %d: %w", vtid, err)
			}
			need = max(need, seccomp.BufSize(ts.chain))
		}
		any = any || ts.mode != seccomp.ModeDisabled
		p.byTid[int(vtid)] = ts
	}
	if !any {
		return p, nil
	}
	l := p.byTid[p.leader]
	for tid, ts := range p.byTid {
		if tid == p.leader || l.mode != seccomp.ModeFilter || ts.mode != seccomp.ModeFilter {
			continue
		}
		for ts.shared < min(len(ts.chain), len(l.chain)) && sameFilter(ts.chain[ts.shared], l.chain[ts.shared]) {
			ts.shared++
		}
		ts.installed = ts.shared
	}
	if err := r.tr.SetOptions(r.pid, ptrace.OptTraceClone|ptrace.OptExitKill|ptrace.OptSuspendSeccomp); err != nil {
		return nil, fmt.Errorf("thread %d: suspend seccomp for the restore: %w", r.pid, err)
	}
	if need > 0 {
		p.size = (need + mem.PageSize - 1) &^ (mem.PageSize - 1)
		addr, err := r.sys("mmap", unix.SYS_MMAP, 0, p.size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
		if err != nil {
			return nil, fmt.Errorf("map the seccomp filters: %w", err)
		}
		p.buf = addr
	}
	return p, nil
}

func sameFilter(a, b *images.SeccompFilter) bool {
	return a.GetFlags() == b.GetFlags() && string(a.GetFilter()) == string(b.GetFilter())
}

// cloneOrder is the order to clone tids in: by how many of the leader's
// filters they share, fewest first, so that the leader's chain only
// grows between clones.
func (p *seccompPlan) cloneOrder(tids []uint32) []uint32 {
	out := slices.Clone(tids)
	slices.SortStableFunc(out, func(a, b uint32) int { return p.byTid[int(a)].shared - p.byTid[int(b)].shared })
	return out
}

// leaderUpTo installs in the leader its filters up to the n oldest.
func (p *seccompPlan) leaderUpTo(r *restorer, n int) error {
	l := p.byTid[p.leader]
	if n <= l.installed {
		return nil
	}
	if err := seccomp.Install(r.in, r.writeRemote, p.buf, seccomp.ModeFilter, l.chain[l.installed:n]); err != nil {
		return fmt.Errorf("thread %d: %w", p.leader, err)
	}
	l.installed = n
	return nil
}

// install gives thread tid (as in the images) the rest of its seccomp
// state. Every thread has seccomp suspended by then (the leader since
// prepareSeccomp, the others since they were cloned from it).
func (p *seccompPlan) install(r *restorer, in *ptrace.Injector, tid int) error {
	ts := p.byTid[tid]
	if ts.mode == seccomp.ModeFilter {
		if ts.installed == len(ts.chain) {
			return nil
		}
		err := seccomp.Install(in, r.writeRemote, p.buf, ts.mode, ts.chain[ts.installed:])
		ts.installed = len(ts.chain)
		return err
	}
	return seccomp.Install(in, r.writeRemote, p.buf, ts.mode, nil)
}

// writeRemote writes b at addr in the task.
func (r *restorer) writeRemote(addr uint64, b []byte) error {
	return mem.WriteRemote(r.pid, []mem.Range{{Start: addr, End: addr + uint64(len(b))}}, b)
}

// release unmaps the filters' buffer, through the leader.
func (p *seccompPlan) release(r *restorer) error {
	if p.buf == 0 {
		return nil
	}
	_, err := r.sys("munmap", unix.SYS_MUNMAP, p.buf, p.size)
	p.buf = 0
	return err
}

// restoreLoginuid gives the task its audit login uid, which it would
// otherwise inherit from the restorer. The kernel lets only the task
// itself write /proc/PID/loginuid, so the write is injected; setting it
// needs CAP_AUDIT_CONTROL, which the task still holds (the restorer's
// creds). Its threads, cloned after, inherit it.
func (r *restorer) restoreLoginuid(tc *images.TaskCoreEntry) error {
	if tc.Loginuid == nil {
		return nil
	}
	want := strconv.FormatUint(uint64(tc.GetLoginuid()), 10)
	if cur, err := procfs.ReadTrim(procfs.Path(r.pid, "loginuid")); err == nil && cur == want {
		return nil
	}
	p, err := r.cstring(0, "/proc/self/loginuid")
	if err != nil {
		return err
	}
	fd, err := r.sys("openat /proc/self/loginuid", unix.SYS_OPENAT, atFdcwd, p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("restore loginuid %s: %w", want, err)
	}
	if err := r.writeScratch(256, []byte(want)); err != nil {
		return err
	}
	_, werr := r.sys("write loginuid", unix.SYS_WRITE, fd, r.scr+256, uint64(len(want)))
	if _, err := r.sys("close", unix.SYS_CLOSE, fd); err != nil && werr == nil {
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
		return nil, fmt.Errorf("%w: %d sigactions, want 62 (or 64)", ErrBadImage, n)
	}
	return sigs, nil
}
