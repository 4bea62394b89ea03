package cmdstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/image"
)

// Once interrupted, the store refuses every write, read and the Finish
// with the interruption as the cause, and an image being written is
// aborted at Close, not committed; image.Chained is kept.
// errInterrupted stands for the interruption, the context's cause.
var errInterrupted = errors.New("interrupted by SIGTERM")

func TestInterruptStore(t *testing.T) {
	dir := t.TempDir()
	d, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	s, is := Wrap(ctx, d)
	if _, ok := s.(image.Chained); !ok {
		t.Fatal("the wrapped Dir lost image.Chained")
	}
	if err := image.WriteImage(ctx, s, "inventory.img"); err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	cancel(errInterrupted)
	ie := errInterrupted
	if _, err := w.Write(make([]byte, 4096)); !errors.Is(err, ie) {
		t.Errorf("write after the signal: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ie) {
		t.Errorf("close after the signal: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pages-1.img")); err == nil {
		t.Error("an image was committed after the signal")
	}
	if _, err := s.Open(ctx, "inventory.img"); !errors.Is(err, ie) {
		t.Errorf("open after the signal: %v", err)
	}
	if err := s.Finish(ctx); !errors.Is(err, ie) {
		t.Errorf("finish after the signal: %v", err)
	}
	if _, err := s.(image.Chained).Parent(ctx); !errors.Is(err, ie) {
		t.Errorf("parent after the signal: %v", err)
	}
	CleanFailedDump(zerolog.New(zerolog.NewTestWriter(t)), dir, is)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		t.Errorf("left after the failed dump: %s", e.Name())
	}
}

// plainStore is a store with none of the optional interfaces.
type plainStore struct{ image.Store }

// The wrapped store reserves room where the inner one can
// (image.ReservingStore), keeps image.FileWriter, tracks that writer as any (an interrupted
// command aborts it), and says errors.ErrUnsupported, touching nothing,
// where the inner one cannot.
func TestReservingStore(t *testing.T) {
	dir := t.TempDir()
	d, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	s, is := Wrap(ctx, d)
	rs, ok := s.(image.ReservingStore)
	if !ok {
		t.Fatal("the wrapped Dir has no CreateReserved")
	}
	w, err := rs.CreateReserved(ctx, "pages-1.img", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(image.FileWriter); !ok {
		t.Error("the wrapped Dir's writer lost image.FileWriter")
	}
	if _, err := w.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "pages-1.img")); err != nil || st.Size() != 4096 {
		t.Errorf("reserved image: %v, %v", st, err)
	}
	w, err = rs.CreateReserved(ctx, "pages-2.img", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	cancel(errInterrupted)
	is.AbortOpen()
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries after AbortOpen, want pages-1.img alone", len(ents))
	}
	w.Close()

	p, _ := Wrap(context.Background(), plainStore{d})
	if _, err := p.(image.ReservingStore).CreateReserved(context.Background(), "pages-3.img", 1<<20); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("over a store that cannot reserve: %v, want ErrUnsupported", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries after a refused CreateReserved, want 1", len(ents))
	}
}
