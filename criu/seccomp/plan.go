package seccomp

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/proto/images"
)

// Task is the leader of a task being restored, as a Plan gives its
// threads their seccomp state.
type Task interface {
	// Sys runs system call nr in the leader.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	// Injector is the leader's, for Install.
	Injector() Injector
	// WriteRemote writes b at addr in the task.
	WriteRemote(addr uint64, b []byte) error
	// SuspendSeccomp sets PTRACE_O_SUSPEND_SECCOMP on the leader, until
	// it is detached.
	SuspendSeccomp() error
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

// Plan is the seccomp state of a task's threads and the buffer
// in the task that carries each filter to the kernel.
type Plan struct {
	t      Task
	leader int // its tid in the images
	byTid  map[int]*threadSeccomp
	buf    uint64 // 0 when no thread has filters
	size   uint64
}

// NewPlan reads the seccomp state of the threads of task t (leader, the
// leader's tid in the images, first) from their cores and table and,
// when any thread has one, suspends seccomp in the leader
// (PTRACE_O_SUSPEND_SECCOMP, until detach; the threads cloned from it
// inherit the option: what is injected after a filter must pass it) and
// maps a buffer for the filters in the task. It runs before the threads
// are cloned.
func NewPlan(t Task, leader int, threads []uint32, cores map[uint32]*images.CoreEntry, table *images.SeccompEntry) (*Plan, error) {
	p := &Plan{t: t, leader: leader, byTid: map[int]*threadSeccomp{}}
	var need uint64
	any := false
	for _, vtid := range threads {
		tc := cores[vtid].GetThreadCore()
		ts := &threadSeccomp{mode: uint32(tc.GetSeccompMode())}
		if ts.mode == ModeFilter {
			var err error
			if ts.chain, err = Chain(table, tc.GetSeccompFilter()); err != nil {
				return nil, fmt.Errorf("thread %d: %w", vtid, err)
			}
			need = max(need, BufSize(ts.chain))
		}
		any = any || ts.mode != ModeDisabled
		p.byTid[int(vtid)] = ts
	}
	if !any {
		return p, nil
	}
	l := p.byTid[p.leader]
	for tid, ts := range p.byTid {
		if tid == p.leader || l.mode != ModeFilter || ts.mode != ModeFilter {
			continue
		}
		for ts.shared < min(len(ts.chain), len(l.chain)) && sameFilter(ts.chain[ts.shared], l.chain[ts.shared]) {
			ts.shared++
		}
		ts.installed = ts.shared
	}
	if err := t.SuspendSeccomp(); err != nil {
		return nil, err
	}
	if need > 0 {
		p.size = (need + mem.PageSize - 1) &^ (mem.PageSize - 1)
		addr, err := t.Sys("mmap", unix.SYS_MMAP, 0, p.size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0), 0)
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

// Shared is how many of the leader's filters thread tid (as in the
// images) shares: it is cloned once the leader has that many.
func (p *Plan) Shared(tid uint32) int { return p.byTid[int(tid)].shared }

// CloneOrder is the order to clone tids in: by how many of the leader's
// filters they share, fewest first, so that the leader's chain only
// grows between clones.
func (p *Plan) CloneOrder(tids []uint32) []uint32 {
	out := slices.Clone(tids)
	slices.SortStableFunc(out, func(a, b uint32) int { return p.byTid[int(a)].shared - p.byTid[int(b)].shared })
	return out
}

// LeaderUpTo installs in the leader its filters up to the n oldest.
func (p *Plan) LeaderUpTo(n int) error {
	l := p.byTid[p.leader]
	if n <= l.installed {
		return nil
	}
	if err := Install(p.t.Injector(), p.t.WriteRemote, p.buf, ModeFilter, l.chain[l.installed:n]); err != nil {
		return fmt.Errorf("thread %d: %w", p.leader, err)
	}
	l.installed = n
	return nil
}

// Install gives thread tid (as in the images) the rest of its seccomp
// state. Every thread has seccomp suspended by then (the leader since
// NewPlan, the others since they were cloned from it); in is its
// injector.
func (p *Plan) Install(in Injector, tid int) error {
	ts := p.byTid[tid]
	if ts.mode == ModeFilter {
		if ts.installed == len(ts.chain) {
			return nil
		}
		err := Install(in, p.t.WriteRemote, p.buf, ts.mode, ts.chain[ts.installed:])
		ts.installed = len(ts.chain)
		return err
	}
	return Install(in, p.t.WriteRemote, p.buf, ts.mode, nil)
}

// Release unmaps the filters' buffer, through the leader.
func (p *Plan) Release() error {
	if p.buf == 0 {
		return nil
	}
	_, err := p.t.Sys("munmap", unix.SYS_MUNMAP, p.buf, p.size)
	p.buf = 0
	return err
}
