package restore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/restore"
)

func setup(t *testing.T) {
	t.Helper()
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
}

// mapsOf returns /proc/PID/smaps reduced to the maps lines and VmFlags,
// with the inode of shared anonymous memory dropped (a new shmem object
// gets a new inode).
func mapsOf(t *testing.T, pid int) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "VmFlags:") {
			b.WriteString(l + "\n")
			continue
		}
		if k := strings.Fields(l); len(k) >= 5 && strings.Contains(k[0], "-") {
			if strings.HasSuffix(l, " (deleted)") {
				k[4] = "-"
			}
			b.WriteString(strings.Join(k, " ") + "\n")
		}
	}
	return b.String()
}

// counterLines checks that the counter file's numbered lines run 0..n
// without a gap or repeat, and returns n and the last handler count.
func counterLines(t *testing.T, file string) (int, int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	next, handled := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue // PASS/FAIL lines
		}
		n, _ := strconv.Atoi(f[0])
		if n != next {
			t.Fatalf("%s: line %d follows %d", file, n, next-1)
		}
		next++
		handled, _ = strconv.Atoi(f[1])
	}
	return next, handled
}

func dumpCmd(t *testing.T, pid int, dir string, extra ...string) {
	t.Helper()
	args := append([]string{"dump", "-t", strconv.Itoa(pid), "-D", dir, "-v4", "-o", filepath.Join(dir, "dump.log")}, extra...)
	out, err := crtest.Run(context.Background(), crtest.Criu(t), args...)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
		t.Fatalf("criu %v: %v\n%s\n%s", args, err, out, log)
	}
}

func restoreCmd(t *testing.T, dir string) int {
	t.Helper()
	pidfile := filepath.Join(dir, "restored.pid")
	args := []string{"restore", "-D", dir, "-d", "-v4", "-o", filepath.Join(dir, "restore.log"), "--pidfile", pidfile}
	out, err := crtest.Run(context.Background(), crtest.Criu(t), args...)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
		t.Fatalf("criu %v: %v\n%s\n%s", args, err, out, log)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	return pid
}

func testCounter(t *testing.T, static bool) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), static)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
	unix.Kill(pid, unix.SIGUSR1)
	crtest.WaitFor(t, out, " 1\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	if crtest.Alive(pid) {
		t.Fatal("task still alive after dump")
	}
	n0, _ := counterLines(t, out)
	if got := restoreCmd(t, img); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	unix.Kill(pid, unix.SIGUSR1)
	crtest.WaitFor(t, out, " 2\n", 5*time.Second)
	crtest.WaitFor(t, out, fmt.Sprintf("\n%d 2\n", n0+20), 5*time.Second)
	unix.Kill(pid, unix.SIGUSR2)
	crtest.WaitFor(t, out, "PASS", 5*time.Second)
	counterLines(t, out)
	for _, name := range []string{"inventory.img", "pstree.img", "core-" + strconv.Itoa(pid) + ".img", "mm-" + strconv.Itoa(pid) + ".img", "stats-dump", "stats-restore", "files.img", "fdinfo-2.img"} {
		if _, err := os.Stat(filepath.Join(img, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestCounterDynamic(t *testing.T) { testCounter(t, false) }
func TestCounterStatic(t *testing.T)  { testCounter(t, true) }

// engineRoundTrip dumps pid through the engine, then restores it.
func engineRoundTrip(t *testing.T, pid int, dir string, cmd *exec.Cmd) (*dump.Stats, *restore.Task) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	s, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dump.Dump(context.Background(), s, dump.Options{Pid: pid, Log: log})
	s.Close()
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	cmd.Wait()
	s, err = image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	task, err := restore.Restore(context.Background(), s, restore.Options{Log: log})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	task.Release()
	return ds, task
}

func TestThreads(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "threads.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	tids, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	before := mapsOf(t, pid)
	var comms []string
	for _, e := range tids {
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/comm", pid, e.Name()))
		comms = append(comms, e.Name()+"="+string(c))
	}
	engineRoundTrip(t, pid, dir, cmd)
	after := mapsOf(t, pid)
	if before != after {
		t.Errorf("maps differ:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, c := range comms {
		tid, want, _ := strings.Cut(c, "=")
		got, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/comm", pid, tid))
		if err != nil || string(got) != want {
			t.Errorf("thread %s: comm %q, want %q (%v)", tid, got, want, err)
		}
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
}

func TestMappings(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "mappings.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	cmd := crtest.Start(t, bin, out, data)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	before := mapsOf(t, pid)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	if got := restoreCmd(t, img); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	after := mapsOf(t, pid)
	if before != after {
		t.Errorf("maps differ:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
	// The ghost copy of the deleted file is gone again.
	if _, err := os.Stat(filepath.Join(data, "deleted.dat")); err == nil {
		t.Error("deleted.dat exists after restore")
	}
}

func TestBigHeap(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigheap.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, "256")
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "READY", 20*time.Second)
	ds, task := engineRoundTrip(t, pid, dir, cmd)
	t.Logf("256 MiB: frozen %v, restore %v", ds.Frozen, task.Stats.Restore)
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 20*time.Second)
}

func TestLeaveRunningRepeated(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "\n5 0\n", 5*time.Second)
	for i := 0; i < 3; i++ {
		img := filepath.Join(dir, fmt.Sprintf("img%d", i))
		os.Mkdir(img, 0o755)
		dumpCmd(t, pid, img, "--leave-running")
		if !crtest.Alive(pid) {
			t.Fatalf("dump %d: task died", i)
		}
		n, _ := counterLines(t, out)
		crtest.WaitFor(t, out, fmt.Sprintf("\n%d 0\n", n+5), 5*time.Second)
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.WaitFor(t, out, "PASS", 5*time.Second)
	// A restore while the task runs: its pid is taken.
	args := []string{"restore", "-D", filepath.Join(dir, "img2"), "-d"}
	res, err := crtest.Run(context.Background(), crtest.Criu(t), args...)
	if err == nil || !strings.Contains(res, "pid is taken") {
		t.Fatalf("restore over a live task: err %v, output %q", err, res)
	}
	// The last images restore once the task is gone.
	cmd.Process.Kill()
	cmd.Wait()
	if got := restoreCmd(t, filepath.Join(dir, "img2")); got != pid {
		t.Fatalf("restored pid %d", got)
	}
	unix.Kill(pid, unix.SIGUSR2)
	deadline := time.Now().Add(5 * time.Second)
	for crtest.Count(out, "PASS") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := crtest.Count(out, "PASS"); n != 2 {
		t.Fatalf("%d PASS, want 2", n)
	}
}

func TestSignalsTimers(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "signals.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	if got := restoreCmd(t, img); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
}
