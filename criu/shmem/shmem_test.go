package shmem

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
)

// memfdWith makes a memfd of size bytes holding one page of 'a'+i at
// each page index of pages.
func memfdWith(t *testing.T, size int64, pages []int64) int {
	t.Helper()
	fd, err := unix.MemfdCreate("shmem-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, size); err != nil {
		t.Fatal(err)
	}
	for i, p := range pages {
		b := bytes.Repeat([]byte{byte('a' + i%26)}, mem.PageSize)
		if _, err := unix.Pwrite(fd, b, p*mem.PageSize); err != nil {
			t.Fatal(err)
		}
	}
	return fd
}

func TestDataRunsExact(t *testing.T) {
	fd := memfdWith(t, 64*mem.PageSize, []int64{0, 1, 2, 10, 40, 41, 63})
	runs, err := DataRuns(fd, 64*mem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	want := []mem.Range{{Start: 0, End: 3 * mem.PageSize}, {Start: 10 * mem.PageSize, End: 11 * mem.PageSize},
		{Start: 40 * mem.PageSize, End: 42 * mem.PageSize}, {Start: 63 * mem.PageSize, End: 64 * mem.PageSize}}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	// Limited to a size: nothing beyond it.
	runs, err = DataRuns(fd, 41*mem.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(runs); n != 3 || runs[2].End != 41*mem.PageSize {
		t.Fatalf("runs up to page 41: %v", runs)
	}
}

// TestDataRunsSparseFast: a 1 GiB object with 256 scattered pages is
// scanned by runs of data, not page by page.
func TestDataRunsSparseFast(t *testing.T) {
	const size = 1 << 30
	var pages []int64
	for i := int64(0); i < 256; i++ {
		pages = append(pages, i*(size/mem.PageSize/256)+7)
	}
	fd := memfdWith(t, size, pages)
	t0 := time.Now()
	runs, err := DataRuns(fd, size)
	d := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 256 || mem.Pages(runs) != 256 {
		t.Fatalf("%d runs of %d pages, want 256 of 1", len(runs), mem.Pages(runs))
	}
	t.Logf("1 GiB object, 256 pages: scanned in %v", d)
	if d > time.Second {
		t.Fatalf("scan took %v", d)
	}
}

// TestWriteFill saves an object read through a /proc link and fills a
// fresh object from the images: the same bytes, and the holes stay holes.
func TestWriteFill(t *testing.T) {
	const size = 32 * mem.PageSize
	fd := memfdWith(t, size, []int64{1, 2, 3, 20, 31})
	st, err := image.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var s Set
	s.AddFile(77, fmt.Sprintf("/proc/self/fd/%d", fd), size)
	next := uint32(5)
	n, err := s.Write(context.Background(), st, func() uint32 { next++; return next - 1 })
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("wrote %d pages, want 5", n)
	}
	if _, err := os.Stat(st.Path() + "/pages-5.img"); err != nil {
		t.Fatal(err)
	}
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if n, err := Fill(context.Background(), st, 77, Mapping(b)); err != nil || n != 5 {
		t.Fatalf("fill: %d pages, %v", n, err)
	}
	orig := make([]byte, size)
	if _, err := unix.Pread(fd, orig, 0); err != nil {
		t.Fatal(err)
	}
	// The restored object holds data exactly where the saved one did.
	start := uintptr(unsafeAddr(b))
	f, err := os.Open(fmt.Sprintf("/proc/self/map_files/%x-%x", start, start+size))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runs, err := DataRuns(int(f.Fd()), size)
	if err != nil {
		t.Fatal(err)
	}
	want := []mem.Range{{Start: 1 * mem.PageSize, End: 4 * mem.PageSize}, {Start: 20 * mem.PageSize, End: 21 * mem.PageSize},
		{Start: 31 * mem.PageSize, End: 32 * mem.PageSize}}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Errorf("restored object's data %v, want %v", runs, want)
	}
	if !bytes.Equal(b, orig) {
		t.Fatal("filled object differs from the saved one")
	}
	// Through an fd, with a size that is not page aligned.
	fd2 := memfdWith(t, 0, nil)
	if err := unix.Ftruncate(fd2, size-100); err != nil {
		t.Fatal(err)
	}
	if _, err := Fill(context.Background(), st, 77, FdFiller{Fd: fd2, Len: size - 100}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, size)
	k, _ := unix.Pread(fd2, got, 0)
	if k != size-100 || !bytes.Equal(got[:k], orig[:k]) {
		t.Fatalf("fd fill: %d bytes, equal %v", k, bytes.Equal(got[:k], orig[:k]))
	}
	// An object with no image is left alone.
	if n, err := Fill(context.Background(), st, 78, Mapping(b)); err != nil || n != 0 {
		t.Fatalf("no image: %d, %v", n, err)
	}
}
