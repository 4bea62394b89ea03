package pageio_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/pageio"
	"github.com/criugo/criu/criu/procfs"
)

const heapMB = 64

// startHeap starts bigheap with heapMB MiB of patterned memory and
// returns its pid, its output file and the mapping holding the pattern.
func startHeap(t *testing.T) (int, string, mem.Range) {
	t.Helper()
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "..", "..", "..", "restore", "testdata", "bigheap.c"), false)
	out := filepath.Join(t.TempDir(), "out.txt")
	cmd := crtest.Start(t, bin, out, strconv.Itoa(heapMB))
	t.Cleanup(func() { crtest.Kill(cmd.Process.Pid) })
	crtest.WaitFor(t, out, "READY", 30*time.Second)
	f, err := os.Open(procfs.Path(cmd.Process.Pid, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	maps, err := procfs.ParseMaps(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if m.End-m.Start == heapMB<<20 && m.Path == "" {
			return cmd.Process.Pid, out, mem.Range{Start: m.Start, End: m.End}
		}
	}
	t.Fatalf("no %d MiB mapping in %d", heapMB, cmd.Process.Pid)
	return 0, "", mem.Range{}
}

// checkPattern checks b against bigheap's pattern.
func checkPattern(t *testing.T, b []byte) {
	t.Helper()
	if len(b) != heapMB<<20 {
		t.Fatalf("%d bytes, want %d", len(b), heapMB<<20)
	}
	for i := 0; i < len(b)/8; i++ {
		if got, want := binary.LittleEndian.Uint64(b[i*8:]), uint64(i)*2654435761; got != want {
			t.Fatalf("word %d: %#x, want %#x", i, got, want)
		}
	}
}

// memDir is an images dir on tmpfs, where the copies map the images.
func memDir(t *testing.T) *image.Dir {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "pageio-test-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f, _ := os.Open(dir)
	defer f.Close()
	if !pageio.InMemory(f) {
		t.Skipf("/dev/shm is no tmpfs here")
	}
	return d
}

// A dump writes the task's bytes, to an image as to any writer,
// including a run read through /proc/PID/mem.
func TestDump(t *testing.T) {
	pid, _, r := startHeap(t)
	runs := []pageio.Run{
		{Range: mem.Range{Start: r.Start, End: r.Start + 5<<20}},
		{Range: mem.Range{Start: r.Start + 5<<20, End: r.Start + 6<<20 + mem.PageSize}, Force: true},
		{Range: mem.Range{Start: r.Start + 6<<20 + mem.PageSize, End: r.End}},
	}
	d := memDir(t)
	ctx := context.Background()
	w, err := d.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pageio.Dump(pid, runs, w, "pages-1.img", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(filepath.Join(d.Path(), "pages-1.img"))
	if err != nil {
		t.Fatal(err)
	}
	checkPattern(t, img)
	var stream bytes.Buffer
	if _, err := pageio.Dump(pid, runs, &stream, "pages-1.img", nil); err != nil {
		t.Fatal(err)
	}
	checkPattern(t, stream.Bytes())
}

// A run that cannot be read fails the dump, unless lenient fills it;
// lenient is called for it.
func TestDumpUnreadable(t *testing.T) {
	pid, _, r := startHeap(t)
	// A hole at the scratch-like address nobody maps.
	hole := mem.Range{Start: 0x10000000, End: 0x10000000 + 1<<20}
	runs := []pageio.Run{{Range: r}, {Range: hole}}
	d := memDir(t)
	ctx := context.Background()
	w, err := d.Create(ctx, "pages-2.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pageio.Dump(pid, runs, w, "pages-2.img", nil); err == nil {
		t.Fatal("dump of an unmapped run succeeded")
	}
	w.Abort()
	w, err = d.Create(ctx, "pages-2.img")
	if err != nil {
		t.Fatal(err)
	}
	calls, busy := 0, false
	lenient := func(rs []mem.Range, b []byte) error {
		if busy {
			t.Error("lenient called twice at once")
		}
		busy = true
		defer func() { busy = false }()
		calls++
		mem.ReadEach(pid, rs, b, func(mem.Range, error) {})
		return nil
	}
	if _, err := pageio.Dump(pid, runs, w, "pages-2.img", lenient); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("lenient was not called")
	}
	b, err := os.ReadFile(filepath.Join(d.Path(), "pages-2.img"))
	if err != nil {
		t.Fatal(err)
	}
	checkPattern(t, b[:r.Len()])
	if !bytes.Equal(b[r.Len():], make([]byte, hole.Len())) {
		t.Fatal("the unreadable run is not zeros")
	}
}

// Pages copied from a mapped image by several writers are the task's
// again: bigheap checks its whole pattern.
func TestFillFromMappedImage(t *testing.T) {
	pid, out, r := startHeap(t)
	d := memDir(t)
	ctx := context.Background()
	w, err := d.Create(ctx, "pages-3.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pageio.Dump(pid, []pageio.Run{{Range: r}}, w, "pages-3.img", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The task's memory is wiped, and it says so.
	if err := mem.WriteRemote(pid, []mem.Range{r}, make([]byte, r.Len())); err != nil {
		t.Fatal(err)
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.WaitFor(t, out, "FAIL", 30*time.Second)
	rd, err := d.Open(ctx, "pages-3.img")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	m, ok, err := pageio.MapImage(rd, r.Len())
	if err != nil || !ok {
		t.Fatalf("MapImage of a tmpfs image: ok %v, %v", ok, err)
	}
	defer m.Close()
	wr := pageio.NewWriters(2, func(rs []mem.Range, b []byte) error { return mem.WriteRemote(pid, rs, b) })
	var done int
	const step = 4 << 20
	for off := uint64(0); off < r.Len(); off += step {
		rs := []mem.Range{{Start: r.Start + off, End: r.Start + off + step}}
		wr.Write(rs, m.Bytes(off, step), func() { done++ })
	}
	if err := wr.Wait(); err != nil {
		t.Fatal(err)
	}
	if done != int(r.Len()/step) {
		t.Fatalf("%d writes done, want %d", done, r.Len()/step)
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.WaitFor(t, out, "PASS", 30*time.Second)
}

// A write that fails is Wait's error, and the writes after it are not
// made; every done is called.
func TestWritersError(t *testing.T) {
	pid, _, r := startHeap(t)
	wr := pageio.NewWriters(1, func(rs []mem.Range, b []byte) error { return mem.WriteRemote(pid, rs, b) })
	done := 0
	page := make([]byte, mem.PageSize)
	wr.Write([]mem.Range{{Start: 0x10000000, End: 0x10000000 + mem.PageSize}}, page, func() { done++ })
	wr.Write([]mem.Range{{Start: r.Start, End: r.Start + mem.PageSize}}, page, func() { done++ })
	err := wr.Wait()
	if !errors.Is(err, unix.EFAULT) {
		t.Fatalf("write to an unmapped page: %v, want EFAULT", err)
	}
	if done != 2 {
		t.Fatalf("%d done, want 2", done)
	}
	got := make([]byte, mem.PageSize)
	if err := mem.ReadRemote(pid, []mem.Range{{Start: r.Start, End: r.Start + mem.PageSize}}, got); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, page) {
		t.Fatal("the write after the failed one was made")
	}
}

// MapImage maps only a tmpfs image holding the bytes asked for.
func TestMapImageRefuses(t *testing.T) {
	d := memDir(t)
	ctx := context.Background()
	w, err := d.Create(ctx, "pages-4.img")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 2*mem.PageSize))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := d.Open(ctx, "pages-4.img")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if m, ok, err := pageio.MapImage(rd, 3*mem.PageSize); ok || err != nil {
		m.Close()
		t.Fatalf("a short image mapped: ok %v, %v", ok, err)
	}
	if _, ok, _ := pageio.MapImage(io.NopCloser(bytes.NewReader(nil)), mem.PageSize); ok {
		t.Fatal("a reader that is no file mapped")
	}
	m, ok, err := pageio.MapImage(rd, 2*mem.PageSize)
	if !ok || err != nil {
		t.Fatalf("MapImage: ok %v, %v", ok, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}
