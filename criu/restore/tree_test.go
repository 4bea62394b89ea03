package restore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// treeOf lists pid and its descendants as "pid ppid pgid sid state"
// lines, sorted by pid.
func treeOf(t *testing.T, pid int) []string {
	t.Helper()
	var out []string
	var walk func(p int)
	walk = func(p int) {
		st, err := procfs.ReadStat(p)
		if err != nil {
			t.Fatalf("stat %d: %v", p, err)
		}
		out = append(out, fmt.Sprintf("%d %d %d %d %c", st.Pid, st.Ppid, st.Pgrp, st.Session, zstate(st.State)))
		kids, _ := procfs.Children(p)
		for _, k := range kids {
			walk(k)
		}
	}
	walk(pid)
	sort.Strings(out)
	return out
}

// zstate keeps Z and folds every live state into R.
func zstate(s byte) byte {
	if s == 'Z' {
		return 'Z'
	}
	return 'R'
}

func pidsOf(lines []string) []int {
	var out []int
	for _, l := range lines {
		p, _ := strconv.Atoi(strings.Fields(l)[0])
		out = append(out, p)
	}
	return out
}

// reapAll waits until each pid is gone (reaping those that come to us).
func reapAll(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		for {
			var ws unix.WaitStatus
			unix.Wait4(p, &ws, unix.WALL|unix.WNOHANG, nil)
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", p)); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %d is still there after dump", p)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// waitVerdict waits for the workload's ALLPASS, failing on a FAIL line.
func waitVerdict(t *testing.T, out string) {
	t.Helper()
	crtest.Verdict(t, out, "ALLPASS", 10*time.Second)
}

// treeRoundTrip starts tree.c in mode, dumps the whole tree with the
// criu command, restores it, and checks that the tree (pids, parents,
// groups, sessions, zombies) is the same and every task passes its own
// checks.
func treeRoundTrip(t *testing.T, mode string, tasks int) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "tree.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, mode)
	pid := cmd.Process.Pid
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	before := treeOf(t, pid)
	defer func() {
		for _, p := range pidsOf(before) {
			unix.Kill(p, unix.SIGKILL)
		}
		reapAll(t, pidsOf(before))
	}()
	if len(before) != tasks {
		t.Fatalf("%d tasks, want %d:\n%s", len(before), tasks, strings.Join(before, "\n"))
	}
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	reapAll(t, pidsOf(before))
	if got := restoreCmd(t, img); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	after := treeOf(t, pid)
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("tree differs (pid ppid pgid sid state):\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	unix.Kill(pid, unix.SIGUSR2)
	waitVerdict(t, out)
}

// A root with three children, the first with a child of its own.
func TestTree(t *testing.T) { treeRoundTrip(t, "tree", 5) }

// Zombies keep their pid and exit status, reaped by the parent after restore.
func TestTreeZombies(t *testing.T) { treeRoundTrip(t, "zombie", 4) }

// Sessions and groups, with a session leader below the root, a child
// born before that setsid, a group shared by siblings and a group whose
// leader is gone (a helper task recreates it).
func TestTreeSessions(t *testing.T) { treeRoundTrip(t, "session", 8) }

// A pipeline of three processes passing numbered records through two
// pipes during the dump (buffered bytes kept, no record lost or
// repeated), a counter in shared anonymous memory inherited over fork
// (one object after restore), a file offset shared over fork and an fd
// table shared with CLONE_FILES.
func TestPipesShared(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "pipes.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, filepath.Join(dir, "shared.dat"))
	pid := cmd.Process.Pid
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	time.Sleep(200 * time.Millisecond) // let p1 fill up
	before := treeOf(t, pid)
	defer func() {
		for _, p := range pidsOf(before) {
			unix.Kill(p, unix.SIGKILL)
		}
		reapAll(t, pidsOf(before))
	}()
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	reapAll(t, pidsOf(before))
	if st, err := os.Stat(filepath.Join(img, "pipes-data.img")); err != nil || st.Size() < 100 {
		t.Errorf("pipes-data.img: %v, %v: expected buffered records", st, err)
	}
	if got := restoreCmd(t, img); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	after := treeOf(t, pid)
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("tree differs:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	time.Sleep(100 * time.Millisecond)
	unix.Kill(pid, unix.SIGUSR2)
	waitVerdict(t, out)
	b, _ := os.ReadFile(out)
	t.Logf("%s", b)
}

// A restore that fails half way (a child's pages are truncated) kills
// every task it created: none is left running.
func TestTreeRestoreFailKillsAll(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "tree.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, "tree")
	pid := cmd.Process.Pid
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	before := treeOf(t, pid)
	defer func() {
		for _, p := range pidsOf(before) {
			unix.Kill(p, unix.SIGKILL)
		}
		reapAll(t, pidsOf(before))
	}()
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	reapAll(t, pidsOf(before))
	last := filepath.Join(img, "pages-5.img")
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", img, "-d")
	if err == nil {
		t.Fatalf("restore of truncated pages succeeded: %s", res)
	}
	t.Logf("restore error: %s", strings.TrimSpace(res))
	for _, p := range pidsOf(before) {
		if crtest.Alive(p) {
			t.Errorf("task %d left running by a failed restore", p)
		}
	}
}

// A child that exec'd another program is restored with that program as
// its /proc/PID/exe, not the root's (every task is cloned from the root's
// stub), and both tasks run on and pass their own checks.
func TestTreeExecChild(t *testing.T) {
	setup(t)
	parentBin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "execparent.c"), false)
	childBin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "execchild.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, parentBin, out, childBin)
	pid := cmd.Process.Pid
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	crtest.WaitFor(t, out, "CHILDREADY", 5*time.Second)
	before := treeOf(t, pid)
	pids := pidsOf(before)
	defer func() {
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
		reapAll(t, pids)
	}()
	if len(pids) != 2 {
		t.Fatalf("%d tasks, want 2:\n%s", len(pids), strings.Join(before, "\n"))
	}
	child := pids[0]
	if child == pid {
		child = pids[1]
	}
	exeOf := func(p int) string {
		t.Helper()
		s, err := os.Readlink(procfs.Path(p, "exe"))
		if err != nil {
			t.Fatalf("exe of %d: %v", p, err)
		}
		return s
	}
	parentExe, childExe := exeOf(pid), exeOf(child)
	if parentExe == childExe {
		t.Fatalf("parent and child both run %s", parentExe)
	}
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	reapAll(t, pids)
	if got := restoreCmd(t, img); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	if after := treeOf(t, pid); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("tree differs:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if got := exeOf(pid); got != parentExe {
		t.Errorf("parent exe %s, want %s", got, parentExe)
	}
	if got := exeOf(child); got != childExe {
		t.Errorf("child exe %s, want %s", got, childExe)
	}
	unix.Kill(pid, unix.SIGUSR2)
	waitVerdict(t, out)
}
