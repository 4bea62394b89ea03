package pageio_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/pageio"
)

// Copies write several images at once, never more than their limit:
// each committed image holds exactly the task's bytes; a copy that
// fails leaves no image and its error is Wait's (once).
func TestCopies(t *testing.T) {
	pid, _, r := startHeap(t)
	d := memDir(t)
	ctx := context.Background()
	c := pageio.NewCopies(2)
	var running, most atomic.Int32
	for i := range 4 {
		name := fmt.Sprintf("pages-%d.img", i+1)
		w, err := d.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		runs := []pageio.Run{{Range: r}}
		if i == 2 { // a hole nobody maps, after the heap
			runs = append(runs, pageio.Run{Range: mem.Range{Start: 0x10000000, End: 0x10000000 + 1<<20}})
		}
		c.Go(func() error {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond) // long enough for the next to start, if it may
			_, err := pageio.DumpCommit(pid, runs, w, name, nil)
			return err
		})
	}
	err := c.Wait()
	if err == nil {
		t.Fatal("the copy of an unmapped run succeeded")
	}
	if err := c.Wait(); err != nil {
		t.Errorf("Wait again: %v (an error is returned once)", err)
	}
	if m := most.Load(); m != 2 {
		t.Errorf("%d copies ran at once, want 2", m)
	}
	for i := range 4 {
		img, err := os.ReadFile(filepath.Join(d.Path(), fmt.Sprintf("pages-%d.img", i+1)))
		if i == 2 {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("pages-3.img after a failed copy: %v, want none", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checkPattern(t, img)
	}
	var nilCopies *pageio.Copies
	if err := nilCopies.Wait(); err != nil {
		t.Errorf("Wait on nil: %v", err)
	}
	errNow := errors.New("copied now")
	if err := nilCopies.Go(func() error { return errNow }); err != errNow {
		t.Errorf("Go on nil: %v, want the copy's own error, at once", err)
	}
}

// A child's runs whose pages its parent's image holds are read from
// that image, at the right offsets; the rest from the task: the
// child's image is the task's bytes, but for a page changed in the
// parent's image, which shows there was read.
func TestFromImage(t *testing.T) {
	pid, _, r := startHeap(t)
	d := memDir(t)
	ctx := context.Background()
	at := func(mb uint64) uint64 { return r.Start + mb<<20 }
	parent := []pageio.Run{
		{Range: mem.Range{Start: at(0), End: at(10)}},
		{Range: mem.Range{Start: at(20), End: r.End}},
	}
	w, err := d.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pageio.DumpCommit(pid, parent, w, "pages-1.img", nil); err != nil {
		t.Fatal(err)
	}
	// The page at 25 MiB is at 15 MiB in the parent's image.
	mark := []byte("from the parent's image")
	f, err := os.OpenFile(filepath.Join(d.Path(), "pages-1.img"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(mark, 15<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	open := func() (io.ReadCloser, error) { return d.Open(ctx, "pages-1.img") }
	shared := []mem.Range{{Start: at(5), End: at(30)}, {Start: at(40), End: at(50)}}
	child := []pageio.Run{{Range: r, Force: true}}
	from, done := pageio.FromImage(open, parent, child, shared)
	defer done()
	if pageio.Size(from) != r.Len() {
		t.Fatalf("%d bytes of runs from %d", pageio.Size(from), r.Len())
	}
	w, err = d.Create(ctx, "pages-2.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pageio.DumpCommit(pid, from, w, "pages-2.img", nil); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(filepath.Join(d.Path(), "pages-2.img"))
	if err != nil {
		t.Fatal(err)
	}
	if got := img[25<<20 : 25<<20+len(mark)]; !bytes.Equal(got, mark) {
		t.Fatalf("page at 25 MiB: %q, want the parent's image's %q", got, mark)
	}
	// The rest is the task's pattern.
	copy(img[25<<20:], patternAt(25<<20, len(mark)))
	checkPattern(t, img)
	// Not a local file: the runs are left as they were.
	from, done2 := pageio.FromImage(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(nil)), nil }, parent, child, shared)
	done2()
	if len(from) != 1 || from[0] != child[0] {
		t.Errorf("runs from a reader that is no file: %v", from)
	}
}

// patternAt is bigheap's bytes at offset off of its heap, n of them.
func patternAt(off, n int) []byte {
	b := make([]byte, (n+16)/8*8+8)
	for i := 0; i < len(b)/8; i++ {
		binary.LittleEndian.PutUint64(b[i*8:], uint64(off/8+i)*2654435761)
	}
	return b[:n]
}
