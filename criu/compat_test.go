package main

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// TestDumpTakesRoot dumps a real counter with --root, as zdtm.py passes
// it to dump in its ns flavor and CRIU 4.2 accepts: the dump succeeds,
// the counter runs on; and so does a pre-dump with it.
func TestDumpTakesRoot(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	criu := crtest.Criu(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, "1")
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, out, "tick 2", 20*time.Second)
	img := t.TempDir()
	if res, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "--root", "/", "--leave-running", "-o", "dump.log"); err != nil {
		t.Fatalf("dump --root /: %v\n%s", err, res)
	}
	if !crtest.Alive(pid) {
		t.Fatal("the counter died in a dump with --leave-running")
	}
	if res, err := crtest.Run(context.Background(), criu, "pre-dump", "-t", strconv.Itoa(pid), "-D", t.TempDir(), "--root", "/"); err != nil {
		t.Fatalf("pre-dump --root /: %v\n%s", err, res)
	}
}
