package anonfd_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// TestDumpRefusesUserfaultfd: a task's own userfaultfd (its features,
// its registered ranges and the faults waiting on them are not
// checkpointed; CRIU 4.2 refuses it too) fails the dump by name, with or
// without a range registered, and the task runs on with it.
func TestDumpRefusesUserfaultfd(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "uffd.c"), false)
	for mode, want := range map[string]string{
		"bare":     "a userfaultfd of the task's own",
		"register": "registered with a userfaultfd",
	} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(t, bin, out, mode)
			pid := cmd.Process.Pid
			defer crtest.Kill(pid)
			crtest.WaitFor(t, out, "ready\n", 5*time.Second)
			if b, _ := os.ReadFile(out); strings.Contains(string(b), "FAIL") {
				t.Skipf("no userfaultfd here: %s", b)
			}
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

// TestDumpRefusesEventfdSemaphore: an eventfd in semaphore mode, which
// CRIU's eventfd entry has no field for (CRIU 4.2 restores it as a plain
// counter), fails the dump by name, and the task runs on with it, still
// a semaphore.
func TestDumpRefusesEventfdSemaphore(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "efdsem.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", img)
	if err == nil || !strings.Contains(res, "EFD_SEMAPHORE") {
		t.Fatalf("dump: err %v, output %q, want a refusal naming EFD_SEMAPHORE", err, res)
	}
	if !crtest.Alive(pid) {
		t.Fatal("the task died")
	}
	cmd.Process.Signal(syscall.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
}

// TestDumpRefusesEpollTargetAmbiguous: an epoll target that only a child
// holds is restored from the child (zdtm epoll04), unless the parent,
// which restore would fill the epoll from first, holds other files at
// the target's numbers: then the dump is refused by name, and the tree
// runs on with its epoll as it was.
func TestDumpRefusesEpollTargetAmbiguous(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "epollother.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", img)
	if err == nil || !strings.Contains(res, "holds other files at their numbers") {
		t.Fatalf("dump: err %v, output %q, want a refusal naming the parent's other files", err, res)
	}
	if !crtest.Alive(pid) {
		t.Fatal("the task died")
	}
	cmd.Process.Signal(syscall.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
}

// TestDumpRefusesEpollInFlightTargetless: an epoll passed in flight is
// saved with its targets as a task of the tree holds them (zdtm scm09),
// but one whose target no task holds (it is in flight too) fails the
// dump by name, and the task runs on with both in its queue.
func TestDumpRefusesEpollInFlightTargetless(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "epollflight.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", img)
	if err == nil || !strings.Contains(res, "no task of the tree holds") {
		t.Fatalf("dump: err %v, output %q, want a refusal naming the target no task holds", err, res)
	}
	if !crtest.Alive(pid) {
		t.Fatal("the task died")
	}
	cmd.Process.Signal(syscall.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 5*time.Second)
}
