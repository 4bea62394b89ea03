package ptrace

import (
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Tracer owns the OS thread that attaches to and waits for tracees.
type Tracer struct {
	reqs      chan func()
	closeOnce sync.Once
	done      chan struct{}
	// seized holds the tids attached with Seize (not yet detached): an
	// injection into one parks it in an interrupt stop afterwards. Only
	// touched on the tracer thread.
	seized map[int]bool
	// stopSig holds, for a seized thread found in a group-stop or whose
	// pending SIGSTOP an injection consumed, the stop signal: the task
	// was stopped and must be stopped again when it is let go. Only
	// touched on the tracer thread.
	stopSig map[int]syscall.Signal
	// pending holds the tids SeizeAsync attached and interrupted, whose
	// stop Seize has not waited for yet. Only touched on the tracer
	// thread.
	pending map[int]bool
	// early holds, for tids of pending, the first status PollPending
	// saw, which Seize takes instead of waiting. Only touched on the
	// tracer thread.
	early map[int]Status
	// tid is the tracer thread's id, set before NewTracer returns:
	// Do called there (from inside another Do's f) runs in place.
	tid int
	// pinned is set once PinCPU pinned the tracer thread to one CPU;
	// mask is the thread's affinity before (Unpin). Only touched on the
	// tracer thread.
	pinned bool
	mask   unix.CPUSet
	cpu    int
	// affinity holds, for a thread Pin moved to cpu, its mask from
	// before (nil: Pin left it where it was). Only touched on the
	// tracer thread.
	affinity map[int]*unix.CPUSet
}

// NewTracer starts the tracer goroutine. Close it when done; closing ends
// the locked OS thread, which detaches (or, with PTRACE_O_EXITKILL, kills)
// any tracee still attached.
func NewTracer() *Tracer {
	t := &Tracer{reqs: make(chan func()), done: make(chan struct{}), seized: map[int]bool{}, stopSig: map[int]syscall.Signal{}, pending: map[int]bool{}, early: map[int]Status{}, affinity: map[int]*unix.CPUSet{}}
	ready := make(chan struct{})
	go func() {
		// Never unlocked: the thread exits with the goroutine.
		runtime.LockOSThread()
		t.tid = unix.Gettid()
		close(ready)
		for {
			select {
			case f := <-t.reqs:
				f()
			case <-t.done:
				return
			}
		}
	}()
	<-ready
	return t
}

// Do runs f on the tracer thread and returns when f has returned.
//
// Called on the tracer thread itself (from inside another Do's f), it
// runs f in place. So a caller that has many requests to make (a task's
// restore: tens of injected syscalls, each a few requests) makes them
// all inside one Do and saves the two thread hand-offs each request
// costs otherwise (tens of microseconds each on a loaded VM, as much as
// the tracee's round trip itself). Such an f holds the tracer thread
// while it runs: it must not wait for another goroutine that uses the
// tracer (one that joins a namespace, package nsenter, runs on a
// thread of its own), or both wait forever.
func (t *Tracer) Do(f func() error) error {
	if unix.Gettid() == t.tid {
		return f()
	}
	var err error
	fin := make(chan struct{})
	select {
	case t.reqs <- func() { err = f(); close(fin) }:
	case <-t.done:
		return ErrClosed
	}
	<-fin
	return err
}

// Close stops the tracer goroutine. Safe to call twice.
func (t *Tracer) Close() error {
	t.closeOnce.Do(func() { close(t.done) })
	return nil
}

// StopSignal is the signal that stopped tid (SIGSTOP, SIGTSTP, SIGTTIN,
// SIGTTOU) when Seize found it in a group-stop, or SIGSTOP when an
// injected syscall consumed a pending SIGSTOP (which cannot be blocked);
// 0 for a thread that was running. Such a task must be stopped again,
// by sending it the signal, before it is let go.
func (t *Tracer) StopSignal(tid int) syscall.Signal {
	var sig syscall.Signal
	t.Do(func() error { sig = t.stopSig[tid]; return nil })
	return sig
}
