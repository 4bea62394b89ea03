package mm_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// criuIn runs criu with args, logging to dir/NAME.log, and fails t with
// the log on error.
func criuIn(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	args = append(args, "-v4", "-o", filepath.Join(dir, name+".log"))
	out, err := crtest.Run(context.Background(), crtest.Criu(t), args...)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
		t.Fatalf("criu %v: %v\n%s\n%s", args, err, out, log)
	}
}

// restoreCmd restores the images in dir with criu, detached, and
// returns the restored root's pid.
func restoreCmd(t testing.TB, dir string) int {
	t.Helper()
	pidfile := filepath.Join(dir, "restored.pid")
	criuIn(t, dir, "restore", "restore", "-D", dir, "-d", "--pidfile", pidfile)
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	return pid
}

// dumpStats reads stats-dump of an images dir.
func dumpStats(t testing.TB, dir string) *images.DumpStatsEntry {
	t.Helper()
	s, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := &images.StatsEntry{}
	if err := image.ReadOne(context.Background(), s, "stats-dump", st); err != nil {
		t.Fatal(err)
	}
	return st.GetDump()
}

// TestPreDumpChain: a workload keeps rewriting 5% of a 128 MiB heap
// through two tracked pre-dumps and the final dump; the final dump writes
// only what changed, and the restored heap is exact (the workload checks
// every page).
func TestPreDumpChain(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "dirtyheap.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, "128", "5")
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready\n", 10*time.Second)
	p := strconv.Itoa(pid)
	var dirs []string
	for i, sub := range []string{"1", "2", "3"} {
		d := filepath.Join(dir, sub)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"-t", p, "-D", d, "--track-mem"}
		if i > 0 {
			args = append(args, "--prev-images-dir", "../"+filepath.Base(dirs[i-1]))
		}
		if i < 2 {
			criuIn(t, d, "pre-dump", append([]string{"pre-dump"}, args...)...)
			time.Sleep(200 * time.Millisecond) // the workload dirties pages
		} else {
			criuIn(t, d, "dump", append([]string{"dump"}, args...)...)
		}
		dirs = append(dirs, d)
	}
	cmd.Wait()

	const heapPages = 128 << 20 >> 12
	first, second, final := dumpStats(t, dirs[0]), dumpStats(t, dirs[1]), dumpStats(t, dirs[2])
	t.Logf("pre-dump 1: written %d; pre-dump 2: written %d parent %d frozen %dus; dump: written %d parent %d frozen %dus",
		first.GetPagesWritten(), second.GetPagesWritten(), second.GetPagesSkippedParent(), second.GetFrozenTime(),
		final.GetPagesWritten(), final.GetPagesSkippedParent(), final.GetFrozenTime())
	if first.GetPagesWritten() < heapPages || first.GetPagesSkippedParent() != 0 {
		t.Errorf("first pre-dump: %d pages written, %d in parent; want all of the heap", first.GetPagesWritten(), first.GetPagesSkippedParent())
	}
	for i, st := range []*images.DumpStatsEntry{second, final} {
		if st.GetPagesSkippedParent() < heapPages*9/10 || st.GetPagesWritten() > heapPages/5 {
			t.Errorf("dump %d: %d pages written, %d in parent; want the 5%% dirtied only", i+2, st.GetPagesWritten(), st.GetPagesSkippedParent())
		}
	}
	if l, err := os.Readlink(filepath.Join(dirs[2], "parent")); err != nil || l != "../2" {
		t.Errorf("parent link: %q, %v", l, err)
	}
	if crit, err := exec.LookPath("crit"); err == nil {
		b, err := exec.Command(crit, "show", filepath.Join(dirs[2], "pagemap-"+p+".img")).CombinedOutput()
		if err != nil {
			t.Errorf("crit show pagemap: %v\n%s", err, b)
		}
	}

	rpid := restoreCmd(t, dirs[2])
	if rpid != pid {
		t.Fatalf("restored as %d, want %d", rpid, pid)
	}
	defer crtest.Kill(rpid)
	time.Sleep(100 * time.Millisecond)
	if err := unix.Kill(rpid, unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	crtest.Verdict(t, out, "PASS", 10*time.Second)
	b, _ := os.ReadFile(out)
	t.Logf("workload: %s", strings.TrimSpace(string(b)))
}

// TestPreDumpRemapForkZap: between a tracked pre-dump and the dump the
// workload replaces a mapping at the same address, zaps pages and reads
// some back as zero pages, and forks (the child inherits the tracking
// uffd, which is not dumped). The restored memory must be the new one.
func TestPreDumpRemapForkZap(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "remaps.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready\n", 5*time.Second)
	p := strconv.Itoa(pid)
	pre, final := filepath.Join(dir, "pre"), filepath.Join(dir, "final")
	for _, d := range []string{pre, final} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	criuIn(t, pre, "pre-dump", "pre-dump", "-t", p, "-D", pre, "--track-mem")
	unix.Kill(pid, unix.SIGUSR1)
	crtest.WaitFor(t, out, "mutated\n", 5*time.Second)
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	criuIn(t, final, "dump", "dump", "-t", p, "-D", final, "--prev-images-dir", "../pre", "--track-mem")
	cmd.Wait()
	for _, k := range strings.Fields(string(kids)) {
		c, _ := strconv.Atoi(k)
		crtest.Reap(c) // killed by dump, orphaned to us
	}
	st := dumpStats(t, final)
	t.Logf("dump: written %d, in parent %d", st.GetPagesWritten(), st.GetPagesSkippedParent())
	if st.GetPagesSkippedParent() == 0 {
		t.Errorf("no page left in the parent")
	}
	rpid := restoreCmd(t, final)
	defer crtest.Kill(rpid)
	// The child forked after the pre-dump is back too.
	kids, _ = os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", rpid, rpid))
	if len(strings.Fields(string(kids))) != 1 {
		t.Errorf("restored children %q, want one", kids)
	}
	for _, k := range strings.Fields(string(kids)) {
		c, _ := strconv.Atoi(k)
		defer crtest.Kill(c)
	}
	unix.Kill(rpid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
}
