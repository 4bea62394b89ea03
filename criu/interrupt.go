package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
)

// Interruption. SIGINT, SIGTERM and SIGHUP (a closed terminal) cancel the
// command's context with an *interruptError as its cause; SIGPIPE (a log
// reader gone) is ignored, so that a write to a closed stderr fails
// instead of killing criu between two injected syscalls.
//
// A command stops at its next image read or write (interruptStore), or
// at the engine's next check of the context, and undoes what it did, as
// on any failure: a dump lets the tree go as it was and finishes no
// snapshot, a restore kills what it created. A signal that comes after
// the commit point (a dump's Finish returned: the snapshot is complete)
// does not undo the dump. The user is told that the command was
// interrupted, by which signal, and criu exits with 128+signo, as a
// shell reports a job killed by that signal.

// interruptError is the context cause of an interrupted command.
type interruptError struct {
	sig syscall.Signal
	// orphaned: the signal is the worker's parent-death signal (the
	// criu process the user started was killed; supervise.go).
	orphaned bool
}

func (e *interruptError) Error() string {
	if e.orphaned {
		return "interrupted by " + signalName(e.sig) + " (the criu process that ran this worker was killed)"
	}
	return "interrupted by " + signalName(e.sig)
}

// interruptedWhat says, per command, what an interruption left.
var interruptedWhat = map[string]string{
	"dump":     "the dump was abandoned, the tree runs on as it was, no snapshot was completed",
	"pre-dump": "the pre-dump was abandoned, the tree runs on, its images are incomplete",
	"restore":  "the restore was abandoned and what it had created was killed",
}

// interruptDetail is an error a command returns to say itself what an
// interruption left (instead of interruptedWhat).
type interruptDetail struct{ msg string }

func (e *interruptDetail) Error() string { return e.msg }

// signalName is SIGTERM, SIGINT, SIGHUP...
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// earlySignals, set by main, has received the interrupting signals
// since criu started.
var earlySignals chan os.Signal

// notifyInterrupts sends the interrupting signals, and SIGPIPE, to ch.
func notifyInterrupts(ch chan os.Signal) {
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
}

// interruptible returns a context that an interrupting signal cancels,
// and the function that stops listening. Only the first signal counts:
// later ones are swallowed so that the undo (thawing the tree, killing
// half-restored tasks) runs to its end.
func interruptible(log *zerolog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := earlySignals
	if ch == nil {
		ch = make(chan os.Signal, 4)
		notifyInterrupts(ch)
	}
	done := make(chan struct{})
	ppid := os.Getppid()
	go func() {
		for {
			select {
			case s := <-ch:
				sig := s.(syscall.Signal)
				if sig == syscall.SIGPIPE {
					continue
				}
				if ctx.Err() == nil {
					log.Warn().Str("signal", signalName(sig)).Msg("interrupted: stopping and undoing what was done")
				}
				cancel(&interruptError{sig: sig, orphaned: isWorker && os.Getppid() != ppid})
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interrupted returns the signal that interrupted ctx, if any.
func interrupted(ctx context.Context) (*interruptError, bool) {
	var ie *interruptError
	if errors.As(context.Cause(ctx), &ie) {
		return ie, true
	}
	return nil, false
}

// localDir is the images dir that dump writes into, "" with --remote.
func (so *storeOptions) localDir() string {
	if so.remote {
		return ""
	}
	return so.dir
}
