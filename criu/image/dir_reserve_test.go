package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDirCreateReserved: an image created with room reserved for more
// bytes than come holds exactly what was written, and the room left
// over is given back (the file's blocks cover what it holds); one that
// gets more than its room holds it all; an aborted one leaves nothing.
// On tmpfs (where dumps write their images to memory) and on the disk
// under TMPDIR.
func TestDirCreateReserved(t *testing.T) {
	roots := []string{t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "image-reserve-test-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(shm)
		roots = append(roots, shm)
	}
	ctx := context.Background()
	const room = 8 << 20
	big := alignedBuf(2 << 20)
	for i := range big {
		big[i] = byte(i*5 + i>>12)
	}
	for _, root := range roots {
		d, err := NewDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			writes int // of big
		}{{"pages-1.img", 1}, {"pages-2.img", 6}} {
			w, err := d.CreateReserved(ctx, tc.name, room)
			if err != nil {
				t.Fatalf("%s: %v", root, err)
			}
			if tc.writes > 1 {
				// More than the room: it grows as any image.
				tc.writes = room/len(big) + 2
			}
			var want []byte
			for range tc.writes {
				if _, err := w.Write(big); err != nil {
					t.Fatal(err)
				}
				want = append(want, big...)
			}
			if _, err := w.Write([]byte("unaligned tail")); err != nil {
				t.Fatal(err)
			}
			want = append(want, "unaligned tail"...)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, tc.name)
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, want the %d written", p, len(got), len(want))
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if used := st.Sys().(*syscall.Stat_t).Blocks * 512; used > int64(len(want))+1<<20 {
				t.Errorf("%s: %d bytes of blocks for %d bytes: the reserved room was not given back", p, used, len(want))
			}
		}
		w, err := d.CreateReserved(ctx, "pages-3.img", room)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(big)
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(root); len(ents) != 2 {
			t.Errorf("%s: %d entries after an abort, want the 2 images", root, len(ents))
		}
		d.Close()
	}
}
