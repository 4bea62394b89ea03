package image

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/criugo/criu/criu/mem"
)

func alignedBuf(n int) []byte { return mem.AlignedBuffer(n) }

// TestDirDirectIO writes an image with big page-aligned writes (O_DIRECT
// where the file system takes it) between small unaligned ones, reads it
// back both with big aligned reads and with small ones, and syncs it.
func TestDirDirectIO(t *testing.T) {
	dir := t.TempDir()
	d, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	w, err := d.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	big := alignedBuf(2 << 20)
	for i := range big {
		big[i] = byte(i*7 + i>>12)
	}
	for _, p := range [][]byte{big, big[:directMin], []byte("tail, unaligned"), big} {
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if len(d.written) != 0 {
		t.Errorf("Finish left %d images to sync", len(d.written))
	}
	got, err := os.ReadFile(filepath.Join(dir, "pages-1.img"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("image of %d bytes differs from the %d written", len(got), len(want))
	}
	for _, n := range []int{directMin, 4096, 1000} {
		r, err := d.Open(ctx, "pages-1.img")
		if err != nil {
			t.Fatal(err)
		}
		var back []byte
		buf := alignedBuf(n)
		for {
			m, err := r.Read(buf)
			back = append(back, buf[:m]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if !bytes.Equal(back, want) {
			t.Fatalf("reads of %d bytes: got %d bytes back, differing", n, len(back))
		}
	}
	// Nothing committed since: Finish syncs only the directory.
	if err := d.Finish(ctx); err != nil {
		t.Fatal(err)
	}
}
