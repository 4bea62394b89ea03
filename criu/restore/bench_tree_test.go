package restore_test

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

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/restore"
)

// BenchmarkTreeSharedMemory dumps and restores a tree of 50 processes
// sharing 256 MiB of anonymous shared memory inherited over fork, and
// checks that the restored memory is one shared copy: the same object in
// every task's maps, a write through one task seen by another, and the
// tree's proportional set size for it about 256 MiB, not 50 copies.
//
// Run: go test -run '^$' -bench TreeSharedMemory -benchtime 1x ./criu/restore/
func BenchmarkTreeSharedMemory(b *testing.B) {
	crtest.RequireRoot(b)
	crtest.Subreaper(b)
	const tasks, mb = 50, 256
	bin := crtest.BuildC(b, filepath.Join(crtest.SourceDir(), "shmtree.c"), false)
	log := zerolog.Nop()
	var dumpT, restoreT, frozen time.Duration
	var pssMB float64
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		out := filepath.Join(dir, "out.txt")
		cmd := crtest.Start(b, bin, strconv.Itoa(tasks), strconv.Itoa(mb), out)
		root := cmd.Process.Pid
		crtest.WaitFor(b, out, "READY", 60*time.Second)
		line, _ := os.ReadFile(out)
		addr, err := strconv.ParseUint(strings.TrimPrefix(strings.Fields(string(line))[1], "0x"), 16, 64)
		if err != nil {
			b.Fatalf("bad READY line %q", line)
		}
		pids := append([]int{root}, children(b, root)...)
		if len(pids) != tasks {
			b.Fatalf("tree has %d tasks, want %d", len(pids), tasks)
		}
		b.StartTimer()

		s, _ := image.NewDir(dir)
		t0 := time.Now()
		ds, err := dump.Dump(context.Background(), s, dump.Options{Pid: root, Log: log})
		dumpT = time.Since(t0)
		s.Close()
		if err != nil {
			killAll(pids)
			b.Fatal(err)
		}
		frozen = ds.Frozen
		cmd.Wait()
		// The children, orphaned by the dump's kill, came to us: reap
		// them, or their zombies keep the pids the restore needs.
		for _, p := range pids[1:] {
			crtest.Reap(p)
		}
		s, _ = image.NewDir(dir)
		t0 = time.Now()
		task, err := restore.Restore(context.Background(), s, restore.Options{Log: log})
		restoreT = time.Since(t0)
		s.Close()
		if err != nil {
			b.Fatal(err)
		}
		task.Release()

		b.StopTimer()
		pssMB = checkShared(b, pids, addr, mb)
		killAll(pids)
		b.StartTimer()
	}
	b.ReportMetric(float64(dumpT.Milliseconds()), "dump-ms")
	b.ReportMetric(float64(frozen.Milliseconds()), "frozen-ms")
	b.ReportMetric(float64(restoreT.Milliseconds()), "restore-ms")
	b.ReportMetric(pssMB, "restored-pss-MB")
	b.Logf("tree of %d tasks sharing %d MiB: dump %v (frozen %v), restore %v; restored: one shared copy, tree Pss %.0f MiB",
		tasks, mb, dumpT.Round(time.Millisecond), frozen.Round(time.Millisecond), restoreT.Round(time.Millisecond), pssMB)
}

// children lists root's children.
func children(b *testing.B, root int) []int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", root, root))
	if err != nil {
		b.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(raw)) {
		p, _ := strconv.Atoi(f)
		out = append(out, p)
	}
	return out
}

func killAll(pids []int) {
	for _, p := range pids[1:] {
		crtest.Kill(p)
	}
	crtest.Kill(pids[0])
}

// checkShared verifies that the mapping at addr is one object across the
// restored tasks and returns the tree's total Pss for it, in MiB.
func checkShared(b *testing.B, pids []int, addr uint64, mb int) float64 {
	var obj string
	var pssKB int
	for _, p := range pids {
		o, pss := mappingAt(b, p, addr)
		if obj == "" {
			obj = o
		} else if o != obj {
			b.Fatalf("task %d maps %s at %#x, task %d maps %s: not one object", pids[0], obj, addr, p, o)
		}
		pssKB += pss
	}
	// A write through the last task is seen by the root.
	last := pids[len(pids)-1]
	w, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", last), os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	want := []byte("shared!!")
	off := int64(addr) + int64(mb/2)<<20
	if _, err := w.WriteAt(want, off); err != nil {
		b.Fatal(err)
	}
	r, err := os.Open(fmt.Sprintf("/proc/%d/mem", pids[0]))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, len(want))
	if _, err := r.ReadAt(got, off); err != nil {
		b.Fatal(err)
	}
	if string(got) != string(want) {
		b.Fatalf("a write by task %d is not seen by task %d: got %q", last, pids[0], got)
	}
	total := float64(pssKB) / 1024
	if total > float64(mb)*1.5 {
		b.Fatalf("tree Pss of the shared mapping is %.0f MiB for %d MiB of memory: copies, not one object", total, mb)
	}
	return total
}

// mappingAt returns the "dev inode" of the mapping starting at addr in
// pid and its Pss in KiB.
func mappingAt(b *testing.B, pid int, addr uint64) (string, int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	prefix := fmt.Sprintf("%x-", addr)
	sc := bufio.NewScanner(f)
	in, obj := false, ""
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, prefix) {
			fs := strings.Fields(l)
			in, obj = true, fs[3]+" "+fs[4]
			continue
		}
		if in && strings.HasPrefix(l, "Pss:") {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return obj, kb
		}
	}
	b.Fatalf("task %d has no mapping at %#x", pid, addr)
	return "", 0
}
