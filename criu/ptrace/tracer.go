package ptrace

import (
	"runtime"
	"sync"
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
}

// NewTracer starts the tracer goroutine. Close it when done; closing ends
// the locked OS thread, which detaches (or, with PTRACE_O_EXITKILL, kills)
// any tracee still attached.
func NewTracer() *Tracer {
	t := &Tracer{reqs: make(chan func()), done: make(chan struct{}), seized: map[int]bool{}}
	ready := make(chan struct{})
	go func() {
		// Never unlocked: the thread exits with the goroutine.
		runtime.LockOSThread()
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
func (t *Tracer) Do(f func() error) error {
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
