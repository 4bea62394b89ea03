package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// A root that no path from criu's root leads to (pivot_root into a
// tmpfs of a private mount namespace, the old root detached: a
// container's) is dumped with its mount namespace; a restore without
// --root refuses it, naming the root mount, and the task (left running)
// runs on.
func TestPivotRootNeedsRoot(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "pivotroot.c"), false)
	dir := t.TempDir()
	cmd := crtest.Start(t, bin)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	out := procfs.Path(pid, "root") + "/out" // in its root: no file of the host
	crtest.WaitFor(t, out, "ready\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	if res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-R", "-t", strconv.Itoa(pid), "-D", img); err != nil {
		t.Fatalf("dump of a pivot_root'ed task: %v\n%s", err, res)
	}
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", img)
	if err == nil || !strings.Contains(res, "is a container's rootfs: restore it with --root DIR") {
		t.Fatalf("restore without --root: err %v, output %q", err, res)
	}
	st, err := procfs.ReadStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st["TracerPid"] != "0" || !strings.HasPrefix(st["State"], "S") && !strings.HasPrefix(st["State"], "R") {
		t.Fatalf("after the dump: State %q TracerPid %q", st["State"], st["TracerPid"])
	}
	b, _ := os.ReadFile(out)
	n := strings.Count(string(b), "\n")
	time.Sleep(100 * time.Millisecond)
	if b, _ = os.ReadFile(out); strings.Count(string(b), "\n") <= n {
		t.Fatal("the task does not run on after the dump")
	}
}
