package pageio_test

import (
	"context"
	"errors"
	"fmt"
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
}
