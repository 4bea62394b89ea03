package mm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mm/pagemap"
	"github.com/criugo/criu/criu/procfs"
)

// A MAP_DROPPABLE mapping's pages are not saved (the kernel may drop
// them at any time: they then read as zeros), so it comes back empty,
// as CRIU 4.2 restores it; a MADV_WIPEONFORK mapping beside it keeps its
// bytes. Both keep their VmFlags. The room the dump reserved for the
// task's anonymous memory before the freeze (mm.Tree.Prepare: the 32
// MiB droppable mapping counts there, and the room is mapped) is given
// back: pages-1.img holds only the pages written.
func TestDroppableNotSaved(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "droppable.c"), false)
	// Images in memory, as a dump's usually are: the room is mapped
	// too (pageio.MapForWrite).
	dir, err := os.MkdirTemp("/dev/shm", "mm-droppable-test-")
	if err != nil {
		dir = t.TempDir()
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	deadline := time.Now().Add(10 * time.Second)
	var b []byte
	for time.Now().Before(deadline) {
		if b, _ = os.ReadFile(out); strings.Contains(string(b), "READY\n") || strings.Contains(string(b), "NODROP") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(string(b), "NODROP") {
		t.Skip("the kernel has no MAP_DROPPABLE")
	}
	var drop, wipe uint64
	if _, err := fmt.Sscanf(string(b), "%x %x", &drop, &wipe); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	const length, dropLength = 3 * 4096, 32 << 20
	want := func(addr uint64) []byte {
		n := length
		if addr == drop {
			n = dropLength
		}
		p := make([]byte, n)
		for i := range p {
			if addr == drop {
				p[i] = byte(i*7 + 1)
			} else {
				p[i] = byte(i*13 + 5)
			}
		}
		return p
	}
	if got := readMem(t, pid, drop, dropLength); string(got) != string(want(drop)) {
		t.Fatal("the droppable mapping lost its bytes before the dump")
	}
	flagsBefore := [2]string{}
	for i, a := range []uint64{drop, wipe} {
		flagsBefore[i], _ = smapsOf(t, pid, a)
	}

	criuIn(t, dir, "dump", "dump", "-t", strconv.Itoa(pid), "-D", dir)
	cmd.Wait()
	s, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, ents, err := pagemap.Read(context.Background(), s, uint32(pid))
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	var wipeSaved, saved uint64
	for _, e := range ents {
		start, end := e.GetVaddr(), e.GetVaddr()+e.GetNrPages()*4096
		if start < drop+dropLength && end > drop {
			t.Errorf("pagemap entry %#x-%#x saves pages of the droppable mapping %#x-%#x", start, end, drop, drop+dropLength)
		}
		if !pagemap.InParent(e) {
			saved += end - start
		}
		if start < wipe+length && end > wipe {
			wipeSaved += min(end, wipe+length) - max(start, wipe)
		}
	}
	if wipeSaved != length {
		t.Errorf("%d bytes of the wipe-on-fork mapping saved, want %d", wipeSaved, length)
	}
	if st, err := os.Stat(filepath.Join(dir, "pages-1.img")); err != nil {
		t.Error(err)
	} else if used := uint64(st.Sys().(*syscall.Stat_t).Blocks) * 512; uint64(st.Size()) != saved || used > saved+1<<20 {
		t.Errorf("pages-1.img: %d bytes, %d in blocks, for the %d bytes of pages saved", st.Size(), used, saved)
	}

	rpid := restoreCmd(t, dir)
	defer crtest.Kill(rpid)
	if got := readMem(t, rpid, drop, dropLength); string(got) != string(make([]byte, dropLength)) {
		t.Error("the droppable mapping is not empty after restore")
	}
	if got := readMem(t, rpid, wipe, length); string(got) != string(want(wipe)) {
		t.Error("the wipe-on-fork mapping lost its bytes")
	}
	for i, a := range []uint64{drop, wipe} {
		if f, _ := smapsOf(t, rpid, a); f != flagsBefore[i] {
			t.Errorf("mapping %#x: VmFlags %q after restore, %q before", a, f, flagsBefore[i])
		}
	}
}

// readMem reads n bytes of pid's memory at addr.
func readMem(t *testing.T, pid int, addr uint64, n int) []byte {
	t.Helper()
	f, err := os.Open(procfs.Path(pid, "mem"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, n)
	if _, err := f.ReadAt(p, int64(addr)); err != nil {
		t.Fatalf("read %d's memory at %#x: %v", pid, addr, err)
	}
	return p
}
