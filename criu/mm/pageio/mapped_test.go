package pageio_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/pageio"
)

// A dump into an image mapped and populated beforehand (with room to
// spare) writes the task's bytes, a run read through /proc/PID/mem
// among them, on several goroutines; the image then holds exactly
// them. Runs that do not fit are refused.
func TestDumpInto(t *testing.T) {
	pid, _, r := startHeap(t)
	runs := []pageio.Run{
		{Range: mem.Range{Start: r.Start, End: r.Start + 5<<20}},
		{Range: mem.Range{Start: r.Start + 5<<20, End: r.Start + 6<<20 + mem.PageSize}, Force: true},
		{Range: mem.Range{Start: r.Start + 6<<20 + mem.PageSize, End: r.Start + 40<<20}},
		{Range: mem.Range{Start: r.Start + 40<<20, End: r.End}},
	}
	d := memDir(t)
	ctx := context.Background()
	const room = heapMB<<20 + 3<<20
	w, err := d.CreateReserved(ctx, "pages-1.img", room)
	if err != nil {
		t.Fatal(err)
	}
	fw := w.(image.FileWriter)
	m, err := pageio.MapForWrite(fw.File(), room)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DumpInto(pid, append(runs, pageio.Run{Range: mem.Range{Start: r.End, End: r.End + 4<<20}})); err == nil {
		t.Error("runs bigger than the image were copied")
	}
	if err := m.DumpInto(pid, runs); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m.Close() // safe twice
	fw.Wrote(int64(r.Len()))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(filepath.Join(d.Path(), "pages-1.img"))
	if err != nil {
		t.Fatal(err)
	}
	checkPattern(t, img)
}
