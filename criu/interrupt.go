package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/image"
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

// interruptStore makes every image operation of a store fail once ctx
// is cancelled: a dump or restore stops within one image write or read
// (the page images are written in chunks of at most tens of MiB). It
// records what it committed, for cleanup after a failed dump. It
// forwards image.Chained; an optional store interface added later must
// be forwarded here too.
type interruptStore struct {
	ctx   context.Context
	inner image.Store

	mu        sync.Mutex
	committed map[string]bool
	open      map[*interruptWriter]bool
}

// wrapStore returns s wrapped by an interruptStore (with image.Chained,
// and image.LateFinisher, when s has them).
func wrapStore(ctx context.Context, s image.Store) (image.Store, *interruptStore) {
	is := &interruptStore{ctx: ctx, inner: s, committed: map[string]bool{}, open: map[*interruptWriter]bool{}}
	if c, ok := s.(image.Chained); ok {
		if l, ok := s.(image.LateFinisher); ok {
			return &interruptLate{&interruptChained{is, c}, l}, is
		}
		return &interruptChained{is, c}, is
	}
	return is, is
}

// interruptLate forwards image.LateFinisher too (the remote store).
type interruptLate struct {
	*interruptChained
	l image.LateFinisher
}

// FinishWith is Finish's commit point with the late image.
func (s *interruptLate) FinishWith(ctx context.Context, name string, last func() ([]byte, error)) error {
	if err := s.err(); err != nil {
		return fmt.Errorf("finish images: %w", err)
	}
	return s.l.FinishWith(context.WithoutCancel(ctx), name, last)
}

func (s *interruptStore) err() error {
	if s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	return nil
}

func (s *interruptStore) Create(ctx context.Context, name string) (image.Writer, error) {
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("create image %s: %w", name, err)
	}
	w, err := s.inner.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	iw := &interruptWriter{s: s, w: w, name: name}
	s.mu.Lock()
	s.open[iw] = true
	s.mu.Unlock()
	return iw, nil
}

func (s *interruptStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("open image %s: %w", name, err)
	}
	r, err := s.inner.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &interruptReader{s: s, r: r, name: name}, nil
}

// Finish is the commit point of a dump: interrupted before it, the
// snapshot is not finished. Once started it is not interrupted (a
// remote cache could mark the snapshot finished while the dump reports
// failure): it succeeds, and the dump with it, or fails on its own.
func (s *interruptStore) Finish(ctx context.Context) error {
	if err := s.err(); err != nil {
		return fmt.Errorf("finish images: %w", err)
	}
	return s.inner.Finish(context.WithoutCancel(ctx))
}

func (s *interruptStore) Close() error { return s.inner.Close() }

// abortOpen aborts the images still being written: after a failed
// command, none is left half-written.
func (s *interruptStore) abortOpen() {
	s.mu.Lock()
	ws := make([]*interruptWriter, 0, len(s.open))
	for w := range s.open {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.Abort()
	}
}

// wrote reports whether an image was committed through s.
func (s *interruptStore) wrote() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.committed) > 0
}

type interruptChained struct {
	*interruptStore
	c image.Chained
}

func (s *interruptChained) SetParent(ctx context.Context, ref string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.c.SetParent(ctx, ref)
}

func (s *interruptChained) Parent(ctx context.Context) (image.Store, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	p, err := s.c.Parent(ctx)
	if err != nil {
		return nil, err
	}
	w, _ := wrapStore(s.ctx, p)
	return w, nil
}

type interruptWriter struct {
	s    *interruptStore
	w    image.Writer
	name string
}

func (w *interruptWriter) Write(p []byte) (int, error) {
	if err := w.s.err(); err != nil {
		return 0, fmt.Errorf("write image %s: %w", w.name, err)
	}
	return w.w.Write(p)
}

// Close commits the image, unless the command was interrupted: then it
// aborts it.
func (w *interruptWriter) Close() error {
	w.s.mu.Lock()
	delete(w.s.open, w)
	w.s.mu.Unlock()
	if err := w.s.err(); err != nil {
		w.w.Abort()
		return fmt.Errorf("commit image %s: %w", w.name, err)
	}
	if err := w.w.Close(); err != nil {
		return err
	}
	w.s.mu.Lock()
	w.s.committed[w.name] = true
	w.s.mu.Unlock()
	return nil
}

func (w *interruptWriter) Abort() error {
	w.s.mu.Lock()
	delete(w.s.open, w)
	w.s.mu.Unlock()
	return w.w.Abort()
}

type interruptReader struct {
	s    *interruptStore
	r    io.ReadCloser
	name string
}

func (r *interruptReader) Read(p []byte) (int, error) {
	if err := r.s.err(); err != nil {
		return 0, fmt.Errorf("read image %s: %w", r.name, err)
	}
	return r.r.Read(p)
}

func (r *interruptReader) Close() error { return r.r.Close() }

// cleanFailedDump runs after a dump or pre-dump into the local images
// dir failed: images still being written are aborted, and when this
// run committed any image, inventory.img goes (it is written last and
// marks the set complete: a set this dump overwrote in part is not),
// so do the images this run committed, and the temporary files of an
// earlier criu that was killed.
func cleanFailedDump(log zerolog.Logger, dir string, is *interruptStore) {
	is.abortOpen()
	if !is.wrote() || dir == "" {
		return
	}
	if err := os.Remove(filepath.Join(dir, "inventory.img")); err == nil {
		log.Info().Str("dir", dir).Msg("failed dump: inventory.img removed")
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Warn().Err(err).Msg("failed dump: remove inventory.img")
	}
	// And every image this run committed: no part of a failed dump
	// stays to be mistaken for a snapshot.
	is.mu.Lock()
	names := make([]string, 0, len(is.committed))
	for n := range is.committed {
		names = append(names, n)
	}
	is.mu.Unlock()
	removed := 0
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err == nil {
			removed++
		} else if !errors.Is(err, os.ErrNotExist) {
			log.Warn().Err(err).Str("img", n).Msg("failed dump: remove image")
		}
	}
	if removed > 0 {
		log.Info().Str("dir", dir).Int("images", removed).Msg("failed dump: its images removed")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, ".img.part-") {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// localDir is the images dir that dump writes into, "" with --remote.
func (so *storeOptions) localDir() string {
	if so.remote {
		return ""
	}
	return so.dir
}
