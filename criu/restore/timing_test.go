package restore_test

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/criugo/criu/criu/image"
)

// timedStore times the writes into each image and Finish.
type timedStore struct {
	image.Store
	mu     sync.Mutex
	writes map[string]time.Duration
	finish time.Duration
}

func (s *timedStore) Create(ctx context.Context, name string) (image.Writer, error) {
	w, err := s.Store.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return &timedWriter{Writer: w, s: s, name: name}, nil
}

func (s *timedStore) Finish(ctx context.Context) error {
	t0 := time.Now()
	err := s.Store.Finish(ctx)
	s.finish = time.Since(t0)
	return err
}

type timedWriter struct {
	image.Writer
	s    *timedStore
	name string
}

func (w *timedWriter) add(d time.Duration) {
	w.s.mu.Lock()
	if w.s.writes == nil {
		w.s.writes = map[string]time.Duration{}
	}
	w.s.writes[w.name] += d
	w.s.mu.Unlock()
}

func (w *timedWriter) Write(p []byte) (int, error) {
	t0 := time.Now()
	n, err := w.Writer.Write(p)
	w.add(time.Since(t0))
	return n, err
}

func (w *timedWriter) Close() error {
	t0 := time.Now()
	err := w.Writer.Close()
	w.add(time.Since(t0))
	return err
}

var _ io.Writer = (*timedWriter)(nil)
