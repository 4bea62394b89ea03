package restore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// fdTable lists a task's fds as "N -> target", sorted.
func fdTable(t *testing.T, pid int) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Name()+" -> "+target)
	}
	sort.Strings(out)
	return out
}

// A restored task holds exactly the fds of its images: fds that the
// process running criu restore holds open (a shell's exec 9>file, a
// harness's 10 and 251) do not leak into it.
func TestRestoreNoInheritedFds(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
	before := fdTable(t, pid)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()

	extra := make([]*os.File, 251-3+1)
	for _, fd := range []int{9, 10, 251} {
		f, err := os.Create(filepath.Join(dir, "extra"+strconv.Itoa(fd)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra[fd-3] = f
	}
	pidfile := filepath.Join(dir, "restored.pid")
	rc := exec.Command(crtest.Criu(t), "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile)
	rc.ExtraFiles = extra
	if b, err := rc.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("criu restore: %v\n%s\n%s", err, b, log)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := strconv.Atoi(string(b)); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	after := fdTable(t, pid)
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("fds after restore:\n%s\nwant (as dumped):\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

// A file whose owner (F_SETOWN: who gets its SIGIO) is a process outside
// the tree cannot be restored as it was: dump refuses it by name and the
// task runs on.
func TestDumpFownOutsideRefused(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := unix.FcntlInt(r.Fd(), unix.F_SETOWN, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	pid, out := startCounterWith(t, bin, dir, r)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir)
	want := fmt.Sprintf("fd 3 (pipe:[%s]): unsupported: its owner (F_SETOWN, type 1) %d is outside the dumped tree", fdIno(t, r), os.Getpid())
	if err == nil || !strings.Contains(res, want) {
		t.Fatalf("dump of a file owned from outside: err %v, output %q, want %q", err, res, want)
	}
	checkStillRuns(t, pid, out)
}
