package mm_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/restore"
)

// regionMem is the memory of one mapping summed over a tree, in KiB,
// from smaps.
type regionMem struct{ pss, private, shared int }

func (m regionMem) String() string {
	return fmt.Sprintf("Pss %d kB, private %d kB, shared %d kB", m.pss, m.private, m.shared)
}

// treeRegion sums, over pids, the smaps figures of the mapping at addr.
func treeRegion(t testing.TB, pids []int, addr uint64) regionMem {
	t.Helper()
	var sum regionMem
	for _, p := range pids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", p))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		prefix := fmt.Sprintf("%x-", addr)
		in, found := false, false
		for sc.Scan() {
			l := sc.Text()
			fs := strings.Fields(l)
			if strings.HasPrefix(l, prefix) {
				in, found = true, true
				continue
			}
			if in && len(fs) > 0 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":") {
				in = false // the next mapping
			}
			if !in || len(fs) < 2 {
				continue
			}
			kb, _ := strconv.Atoi(fs[1])
			switch fs[0] {
			case "Pss:":
				sum.pss += kb
			case "Private_Clean:", "Private_Dirty:":
				sum.private += kb
			case "Shared_Clean:", "Shared_Dirty:":
				sum.shared += kb
			}
		}
		f.Close()
		if !found {
			t.Fatalf("task %d has no mapping at %#x", p, addr)
		}
	}
	return sum
}

func treePids(t testing.TB, root int) []int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", root, root))
	if err != nil {
		t.Fatal(err)
	}
	pids := []int{root}
	for _, f := range strings.Fields(string(raw)) {
		p, _ := strconv.Atoi(f)
		pids = append(pids, p)
	}
	return pids
}

// TestForkedMemoryStaysShared: a parent fills 16 MiB of private memory
// and forks three children that change a few pages each. After restore
// the tree's memory for that mapping is split between private and shared
// as it was at dump (not four private copies), and every task reads its
// own pages: those it changed, those its parent changed after the fork
// (which it keeps as they were), and one it zapped (zeros).
func TestForkedMemoryStaysShared(t *testing.T) { cowRoundTrip(t, cowPlain) }

// TestForkedMemoryStaysSharedPreDump: the same through a tracked
// pre-dump and a dump on top of it; the pre-dump leaves the running
// tree's memory shared too (its reads do not unshare pages).
func TestForkedMemoryStaysSharedPreDump(t *testing.T) { cowRoundTrip(t, cowPreDump) }

// TestForkedMemoryStaysSharedByContent: images whose pagemaps do not
// say which pages were shared (a dump that could not read PFNs, or
// another dumper's) still restore shared: restore compares each page of
// an inherited mapping with what the task inherited.
func TestForkedMemoryStaysSharedByContent(t *testing.T) { cowRoundTrip(t, cowNoFlags) }

const (
	cowPlain = iota
	cowPreDump
	cowNoFlags
)

// stripCow clears image.PeCow in every task pagemap of dir.
func stripCow(t *testing.T, dir string) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "pagemap-[0-9]*.img"))
	s, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for _, path := range names {
		name := filepath.Base(path)
		head, ents, err := image.ReadPagemap(context.Background(), s, name)
		if err != nil {
			t.Fatal(err)
		}
		msgs := []proto.Message{head}
		for _, e := range ents {
			if e.GetFlags()&image.PeCow != 0 {
				e.Flags = proto.Uint32(e.GetFlags() &^ image.PeCow)
				n++
			}
			msgs = append(msgs, e)
		}
		if err := image.WriteImage(context.Background(), s, name, msgs...); err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Fatal("no pagemap entry was flagged PeCow")
	}
}

func cowRoundTrip(t *testing.T, mode int) {
	pre := mode == cowPreDump
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	const kids, mb = 3, 16
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "cowtree.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, strconv.Itoa(kids), strconv.Itoa(mb), out)
	root := cmd.Process.Pid
	crtest.WaitFor(t, out, "READY", 30*time.Second)
	line, _ := os.ReadFile(out)
	addr, err := strconv.ParseUint(strings.TrimPrefix(strings.Fields(string(line))[1], "0x"), 16, 64)
	if err != nil {
		t.Fatalf("bad READY line %q", line)
	}
	pids := treePids(t, root)
	if len(pids) != kids+1 {
		t.Fatalf("tree has %d tasks, want %d", len(pids), kids+1)
	}
	kill := func() {
		for _, p := range pids[1:] {
			crtest.Kill(p)
		}
		crtest.Kill(pids[0])
	}
	before := treeRegion(t, pids, addr)
	heap := heapStart(t, root)
	heapBefore := treeRegion(t, pids, heap)

	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0700)
	opts := dump.Options{Pid: root, Log: zerolog.Nop()}
	if pre {
		pdir := filepath.Join(dir, "pre")
		os.Mkdir(pdir, 0700)
		s, _ := image.NewDir(pdir)
		_, err := dump.PreDump(context.Background(), s, dump.Options{Pid: root, Log: zerolog.Nop(), TrackMem: true})
		s.Close()
		if err != nil {
			kill()
			t.Fatal(err)
		}
		running := treeRegion(t, pids, addr)
		t.Logf("after the pre-dump the running tree has %v", running)
		if running.pss > before.pss+before.pss/10+64*len(pids) {
			kill()
			t.Fatalf("the pre-dump unshared the running tree's memory: Pss %d kB, was %d kB", running.pss, before.pss)
		}
		opts.PrevImages, opts.TrackMem = "../pre", true
	}
	s, _ := image.NewDir(img)
	_, err = dump.Dump(context.Background(), s, opts)
	s.Close()
	if err != nil {
		kill()
		t.Fatal(err)
	}
	cmd.Wait()
	for _, p := range pids[1:] {
		crtest.Reap(p)
	}
	if mode == cowNoFlags {
		stripCow(t, img)
	}
	s, _ = image.NewDir(img)
	task, err := restore.Restore(context.Background(), s, restore.Options{Log: zerolog.Nop()})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	task.Release()
	t.Cleanup(kill)
	after := treeRegion(t, pids, addr)
	heapAfter := treeRegion(t, pids, heap)
	t.Logf("%d MiB mapping over %d tasks: at dump %v; restored %v", mb, len(pids), before, after)
	t.Logf("[heap], grown by each child: at dump %v; restored %v", heapBefore, heapAfter)

	// Every task has its own view of the mapping.
	if err := os.WriteFile(out, nil, 0644); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if err := unix.Kill(p, unix.SIGUSR1); err != nil {
			t.Fatalf("signal %d: %v", p, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for crtest.Count(out, "\n") < len(pids) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got, _ := os.ReadFile(out)
	if crtest.Count(out, "OK ") != len(pids) {
		t.Fatalf("after restore the tasks read:\n%s", got)
	}

	// The split between private and shared is what it was, within a
	// margin (a page or two faulted since, the parent's stack...).
	sameSplit(t, "the mapping", before, after, len(pids))
	sameSplit(t, "[heap]", heapBefore, heapAfter, len(pids))
}

func sameSplit(t *testing.T, what string, before, after regionMem, tasks int) {
	t.Helper()
	slack := 64 * tasks
	if after.pss > before.pss+before.pss/10+slack {
		t.Errorf("tree Pss of %s grew from %d to %d kB: the children's copies are not shared", what, before.pss, after.pss)
	}
	if d := after.private - before.private; d > before.private/10+slack || -d > before.private/10+slack {
		t.Errorf("private memory of %s was %d kB, is %d kB", what, before.private, after.private)
	}
	if d := after.shared - before.shared; d > before.shared/10+slack || -d > before.shared/10+slack {
		t.Errorf("shared memory of %s was %d kB, is %d kB", what, before.shared, after.shared)
	}
}

// heapStart is the start of pid's [heap] mapping.
func heapStart(t testing.TB, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(l, "[heap]") {
			a, err := strconv.ParseUint(l[:strings.IndexByte(l, '-')], 16, 64)
			if err == nil {
				return a
			}
		}
	}
	t.Fatalf("task %d has no [heap]", pid)
	return 0
}
