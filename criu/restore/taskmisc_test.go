package restore_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/restore"
	"github.com/criugo/criu/proto/images"
)

// startCounter starts testdata/counter.c writing to out in a fresh dir
// and waits until it runs.
func startCounter(t *testing.T) (dir, out string, cmd *exec.Cmd) {
	t.Helper()
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	dir = t.TempDir()
	out = filepath.Join(dir, "out.txt")
	cmd = crtest.Start(t, bin, out)
	crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
	return dir, out, cmd
}

// TestOOMScoreAdjBelowMinimum dumps a task whose oom_score_adj was raised
// to 200 from outside, checks that core-PID.img holds 200, then rewrites
// it to -500, a value that this machine (no CAP_SYS_RESOURCE) cannot set
// on a task that inherited a higher minimum. The restore must go on,
// leave the inherited value and warn, naming the task and the value.
func TestOOMScoreAdjBelowMinimum(t *testing.T) {
	setup(t)
	self, err := procfs.ReadTrim("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if self != "0" {
		t.Skipf("the test runs at oom_score_adj %s; it needs 0 to know the restored task's minimum", self)
	}
	dir, out, cmd := startCounter(t)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	if err := os.WriteFile(procfs.Path(pid, "oom_score_adj"), []byte("200"), 0); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	n0, _ := counterLines(t, out)

	name := "core-" + strconv.Itoa(pid) + ".img"
	f, err := os.Open(filepath.Join(img, name))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := image.NewDecoder(f, name)
	if err != nil {
		t.Fatal(err)
	}
	core := &images.CoreEntry{}
	err = dec.Decode(core)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(core.GetTc().GetSigactions()); n != 62 {
		t.Errorf("dumped %d sigactions, want CRIU's 62 (no SIGKILL, no SIGSTOP)", n)
	}
	if core.GetTc().OomScoreAdj == nil || core.GetTc().GetOomScoreAdj() != 200 {
		t.Fatalf("dumped oom_score_adj %v, want 200", core.GetTc().OomScoreAdj)
	}
	if core.GetTc().ChildSubreaper == nil || core.GetTc().GetChildSubreaper() {
		t.Fatalf("dumped child_subreaper %v, want false", core.GetTc().ChildSubreaper)
	}
	core.Tc.OomScoreAdj = proto.Int32(-500)
	s, err := image.NewDir(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := image.WriteImage(context.Background(), s, name, core); err != nil {
		t.Fatal(err)
	}
	s.Close()

	var logbuf bytes.Buffer
	log := zerolog.New(zerolog.SyncWriter(&logbuf))
	s, err = image.NewDir(img)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	task, err := restore.Restore(context.Background(), s, restore.Options{Log: log})
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, logbuf.String())
	}
	task.Release()
	got, err := procfs.ReadTrim(procfs.Path(pid, "oom_score_adj"))
	if err != nil {
		t.Fatal(err)
	}
	if got != "0" {
		t.Errorf("restored oom_score_adj %s, want the inherited 0", got)
	}
	var warned bool
	for _, l := range strings.Split(logbuf.String(), "\n") {
		if strings.Contains(l, `"level":"warn"`) && strings.Contains(l, "oom_score_adj -500") &&
			strings.Contains(l, "task "+strconv.Itoa(pid)) {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning naming task %d and oom_score_adj -500 in the restore log:\n%s", pid, logbuf.String())
	}
	// And it runs on.
	crtest.WaitFor(t, out, "\n"+strconv.Itoa(n0+20)+" 0\n", 5*time.Second)
}

// TestPersonalityNotInherited restores a task with the default
// personality (0) by a criu run under setarch -R: the restored task must
// not keep the restorer's ADDR_NO_RANDOMIZE.
func TestPersonalityNotInherited(t *testing.T) {
	setup(t)
	setarch, err := exec.LookPath("setarch")
	if err != nil {
		t.Skip("no setarch")
	}
	dir, _, cmd := startCounter(t)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	if p, _ := procfs.ReadTrim(procfs.Path(pid, "personality")); p != "00000000" {
		t.Fatalf("workload personality %s, want 00000000", p)
	}
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	pidfile := filepath.Join(img, "restored.pid")
	args := []string{"-R", crtest.Criu(t), "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile}
	if out, err := crtest.Run(context.Background(), setarch, args...); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("setarch %v: %v\n%s\n%s", args, err, out, log)
	}
	if p, _ := procfs.ReadTrim(procfs.Path(pid, "personality")); p != "00000000" {
		t.Errorf("restored personality %s, want 00000000 (not the restorer's)", p)
	}
}

// TestDumpPendingSIGTRAP: a task with a SIGTRAP pending is refused by
// name, as CRIU refuses it (zdtm sigtrap is crfail there), and runs on
// with the SIGTRAP still pending and its handler still set.
func TestDumpPendingSIGTRAP(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "sigtrap.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", img)
	if err == nil || !strings.Contains(res, "SIGTRAP is pending") || !strings.Contains(res, "thread "+strconv.Itoa(pid)) {
		t.Fatalf("dump with a pending SIGTRAP: err %v, output %q", err, res)
	}
	if !crtest.Alive(pid) {
		t.Fatal("the task died")
	}
	cmd.Process.Signal(syscall.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
}

// TestDumpRefusesUnkept: per-task state that CRIU's images cannot hold
// fails the dump, naming the task and the state, and the task runs on
// with it.
func TestDumpRefusesUnkept(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "refused.c"), false)
	for mode, want := range map[string]string{
		"ioprio":   "I/O priority class 3",
		"exitsig":  "exit signal is 10",
		"affinity": "CPU affinity 0 differs",
	} {
		if mode == "affinity" && runtime.NumCPU() < 2 {
			continue // pinned to the only CPU is no difference
		}
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(t, bin, out, mode)
			pid := cmd.Process.Pid
			defer crtest.Kill(pid)
			crtest.WaitFor(t, out, "ready\n", 5*time.Second)
			img := filepath.Join(dir, "img")
			os.Mkdir(img, 0o755)
			res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", img)
			if err == nil || !strings.Contains(res, want) {
				t.Fatalf("dump: err %v, output %q, want %q", err, res, want)
			}
			if !crtest.Alive(pid) {
				t.Fatal("the task died")
			}
			cmd.Process.Signal(syscall.SIGUSR2)
			crtest.Verdict(t, out, "PASS", 5*time.Second)
		})
	}
}
