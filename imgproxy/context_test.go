package imgproxy_test

import (
	"context"
	"errors"
	"testing"
)

// TestWriterContext: the context given to Create bounds the whole write
// of an image: once it is cancelled, Write and Close fail with it, and
// the image is not committed (the snapshot finishes without it).
func TestWriterContext(t *testing.T) {
	r := newRig(t, rigOpts{})
	st := r.writer("ctx-snap", "")
	ctx, cancel := context.WithCancel(context.Background())
	w, err := st.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content(1, 4096)); err != nil {
		t.Fatal(err)
	}
	cancel()
	// Writes are coalesced: a big one reaches the connection.
	if _, err := w.Write(content(2, 1<<20)); !errors.Is(err, context.Canceled) {
		t.Errorf("Write after cancel: %v, want context.Canceled", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after cancel committed the image")
	}
	if err := put(context.Background(), st, "core-1.img", content(3, 100)); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	rd := r.reader("ctx-snap")
	mustGet(t, rd, "core-1.img", content(3, 100))
	if _, err := get(context.Background(), rd, "pages-1.img"); err == nil {
		t.Error("the image written under a cancelled context is served")
	}
}
