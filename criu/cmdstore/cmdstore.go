// Package cmdstore wraps the image store of one criu command so that an
// interruption (the command's context cancelled by a signal) stops the
// command within one image operation, and cleans what a failed dump left
// in a local images dir.
package cmdstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/image"
)

// Store makes every image operation of an inner store fail once ctx
// is cancelled (its cause, an interruption, is the error): a dump or restore stops within one image write or read
// (the page images are written in chunks of at most tens of MiB). It
// records what it committed, for cleanup after a failed dump. It
// forwards image.Chained, image.ReservingStore and image.FileWriter; an
// optional store interface added later must be forwarded here too.
type Store struct {
	ctx   context.Context
	inner image.Store

	mu        sync.Mutex
	committed map[string]bool
	open      map[*writer]bool
}

// Wrap returns s wrapped by a Store (with image.Chained,
// and image.LateFinisher, when s has them).
func Wrap(ctx context.Context, s image.Store) (image.Store, *Store) {
	is := &Store{ctx: ctx, inner: s, committed: map[string]bool{}, open: map[*writer]bool{}}
	if c, ok := s.(image.Chained); ok {
		if l, ok := s.(image.LateFinisher); ok {
			return &lateStore{&chainedStore{is, c}, l}, is
		}
		return &chainedStore{is, c}, is
	}
	return is, is
}

// lateStore forwards image.LateFinisher too (the remote store).
type lateStore struct {
	*chainedStore
	l image.LateFinisher
}

// FinishWith is Finish's commit point with the late image.
func (s *lateStore) FinishWith(ctx context.Context, name string, last func() ([]byte, error)) error {
	if err := s.err(); err != nil {
		return fmt.Errorf("finish images: %w", err)
	}
	return s.l.FinishWith(context.WithoutCancel(ctx), name, last)
}

func (s *Store) err() error {
	if s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	return nil
}

func (s *Store) Create(ctx context.Context, name string) (image.Writer, error) {
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("create image %s: %w", name, err)
	}
	w, err := s.inner.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.track(w, name), nil
}

// CreateReserved implements image.ReservingStore when the inner store
// does; errors.ErrUnsupported otherwise.
func (s *Store) CreateReserved(ctx context.Context, name string, n int64) (image.Writer, error) {
	rs, ok := s.inner.(image.ReservingStore)
	if !ok {
		return nil, fmt.Errorf("create image %s with room reserved: %w", name, errors.ErrUnsupported)
	}
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("create image %s: %w", name, err)
	}
	w, err := rs.CreateReserved(ctx, name, n)
	if err != nil {
		return nil, err
	}
	return s.track(w, name), nil
}

// track wraps w, an image being written, and records it open.
func (s *Store) track(w image.Writer, name string) image.Writer {
	iw := &writer{s: s, w: w, name: name}
	s.mu.Lock()
	s.open[iw] = true
	s.mu.Unlock()
	if fw, ok := w.(image.FileWriter); ok {
		return &fileWriter{iw, fw}
	}
	return iw
}

// fileWriter forwards image.FileWriter.
type fileWriter struct {
	*writer
	f image.FileWriter
}

func (w *fileWriter) File() *os.File { return w.f.File() }
func (w *fileWriter) Wrote(n int64)  { w.f.Wrote(n) }

func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := s.err(); err != nil {
		return nil, fmt.Errorf("open image %s: %w", name, err)
	}
	r, err := s.inner.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	rd := &reader{s: s, r: r, name: name}
	if f, ok := r.(image.FileReader); ok {
		// The page copies map a local image rather than read it
		// (package pageio); they check the command's context
		// between batches themselves.
		return &fileReader{rd, f}, nil
	}
	return rd, nil
}

// Finish is the commit point of a dump: interrupted before it, the
// snapshot is not finished. Once started it is not interrupted (a
// remote cache could mark the snapshot finished while the dump reports
// failure): it succeeds, and the dump with it, or fails on its own.
func (s *Store) Finish(ctx context.Context) error {
	if err := s.err(); err != nil {
		return fmt.Errorf("finish images: %w", err)
	}
	return s.inner.Finish(context.WithoutCancel(ctx))
}

func (s *Store) Close() error { return s.inner.Close() }

// AbortOpen aborts the images still being written: after a failed
// command, none is left half-written.
func (s *Store) AbortOpen() {
	s.mu.Lock()
	ws := make([]*writer, 0, len(s.open))
	for w := range s.open {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.Abort()
	}
}

// wrote reports whether an image was committed through s.
func (s *Store) Wrote() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.committed) > 0
}

type chainedStore struct {
	*Store
	c image.Chained
}

func (s *chainedStore) SetParent(ctx context.Context, ref string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.c.SetParent(ctx, ref)
}

func (s *chainedStore) Parent(ctx context.Context) (image.Store, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	p, err := s.c.Parent(ctx)
	if err != nil {
		return nil, err
	}
	w, _ := Wrap(s.ctx, p)
	return w, nil
}

type writer struct {
	s    *Store
	w    image.Writer
	name string
}

func (w *writer) Write(p []byte) (int, error) {
	if err := w.s.err(); err != nil {
		return 0, fmt.Errorf("write image %s: %w", w.name, err)
	}
	return w.w.Write(p)
}

// Close commits the image, unless the command was interrupted: then it
// aborts it.
func (w *writer) Close() error {
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

func (w *writer) Abort() error {
	w.s.mu.Lock()
	delete(w.s.open, w)
	w.s.mu.Unlock()
	return w.w.Abort()
}

type reader struct {
	s    *Store
	r    io.ReadCloser
	name string
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.s.err(); err != nil {
		return 0, fmt.Errorf("read image %s: %w", r.name, err)
	}
	return r.r.Read(p)
}

func (r *reader) Close() error { return r.r.Close() }

// fileReader forwards image.FileReader.
type fileReader struct {
	*reader
	f image.FileReader
}

// File is the inner reader's file.
func (r *fileReader) File() *os.File { return r.f.File() }

// CleanFailedDump runs after a dump or pre-dump into the local images
// dir failed: images still being written are aborted, and when this
// run committed any image, inventory.img goes (it is written last and
// marks the set complete: a set this dump overwrote in part is not),
// so do the images this run committed, and the temporary files of an
// earlier criu that was killed.
func CleanFailedDump(log zerolog.Logger, dir string, is *Store) {
	is.AbortOpen()
	if !is.Wrote() || dir == "" {
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
