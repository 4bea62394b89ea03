package restore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// cpusAllowed is the Cpus_allowed_list line of /proc/PID/task/TID/status.
func cpusAllowed(t *testing.T, pid, tid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Cpus_allowed_list:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "Cpus_allowed_list:"))
		}
	}
	t.Fatalf("no Cpus_allowed_list in /proc/%d/task/%d/status", pid, tid)
	return ""
}

// The restore creates the tasks on its tracer's CPU (ptrace.Tracer.PinCPU)
// and gives every thread of every task criu's CPU mask back before it
// runs: a restored tree of several tasks and threads runs where criu
// may, as before the dump, not on one CPU.
func TestRestoredCPUMask(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "tree.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, "tree")
	pid := cmd.Process.Pid
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	before := pidsOf(treeOf(t, pid))
	defer func() {
		for _, p := range before {
			unix.Kill(p, unix.SIGKILL)
		}
		reapAll(t, before)
	}()
	want := cpusAllowed(t, os.Getpid(), os.Getpid())
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	reapAll(t, before)
	if got := restoreCmd(t, img); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	n := 0
	for _, p := range treeTids(t, pid) {
		if got := cpusAllowed(t, p[0], p[1]); got != want {
			t.Errorf("restored thread %d of %d runs on CPUs %s, want criu's %s", p[1], p[0], got, want)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("restored tree has %d threads, want the 5 tasks of tree.c at least", n)
	}
	unix.Kill(pid, unix.SIGUSR2)
	waitVerdict(t, out)
}

// treeTids lists (pid, tid) of every thread of root and its descendants.
func treeTids(t *testing.T, root int) [][2]int {
	t.Helper()
	var out [][2]int
	todo := []int{root}
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			var tid int
			fmt.Sscan(e.Name(), &tid)
			out = append(out, [2]int{p, tid})
			kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p, tid))
			for _, k := range strings.Fields(string(kids)) {
				var c int
				fmt.Sscan(k, &c)
				todo = append(todo, c)
			}
		}
	}
	return out
}

// The dump moves the frozen threads to its tracer's CPU and gives each
// its own CPU mask back when it lets the tree go: after a dump -R every
// thread has its mask as before, and after a dump refused for a
// thread's affinity (one thread of threads.c pinned to CPU 0, which the
// refusal names as found, not as moved) so has every thread, the
// refused one CPU 0 and the others criu's.
func TestDumpKeepsCPUMask(t *testing.T) {
	setup(t)
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: a thread moved to the tracer's is where it was")
	}
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "threads.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	want := cpusAllowed(t, os.Getpid(), os.Getpid())
	masks := func() map[int]string {
		m := map[int]string{}
		for _, p := range treeTids(t, pid) {
			m[p[1]] = cpusAllowed(t, p[0], p[1])
		}
		return m
	}
	check := func(when string, pinned int) {
		t.Helper()
		m := masks()
		if len(m) < 2 {
			t.Fatalf("%d threads, want several", len(m))
		}
		for tid, got := range m {
			w := want
			if tid == pinned {
				w = "0"
			}
			if got != w {
				t.Errorf("%s: thread %d runs on CPUs %s, want %s", when, tid, got, w)
			}
		}
	}
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img, "-R")
	check("after dump -R", 0)

	var one unix.CPUSet
	one.Set(0)
	tids := treeTids(t, pid)
	last := tids[len(tids)-1][1]
	if err := unix.SchedSetaffinity(last, &one); err != nil {
		t.Fatal(err)
	}
	img2 := filepath.Join(dir, "img2")
	os.Mkdir(img2, 0o755)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", img2)
	if msg := fmt.Sprintf("thread %d: unsupported: CPU affinity 0 differs from criu's %s", last, want); err == nil || !strings.Contains(res, msg) {
		t.Fatalf("dump: err %v, output %q, want %q", err, res, msg)
	}
	check("after the refused dump", last)
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
}
