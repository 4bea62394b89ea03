package restore

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/proto/images"
)

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
