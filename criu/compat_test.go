package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// TestUpstreamZdtmOptions dumps and restores a real counter with the
// options upstream zdtm.py and its tests' .desc files pass, which CRIU
// 4.2 accepts and which choose how CRIU works, not what it saves:
// --root at dump and pre-dump (zdtm.py's ns flavor gives dump the
// restore's root), --ghost-fiemap, --no-ghost-fiemap and
// --irmap-scan-path at dump, --mntns-compat-mode and its --no- at
// restore. The counter counts on after the restore.
func TestUpstreamZdtmOptions(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	criu := crtest.Criu(t)
	ctx := context.Background()
	for _, ropt := range []string{"--mntns-compat-mode", "--no-mntns-compat-mode"} {
		t.Run(ropt, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(t, bin, out, "1")
			pid := cmd.Process.Pid
			t.Cleanup(func() { crtest.Kill(pid) })
			crtest.WaitFor(t, out, "tick 2", 20*time.Second)
			if res, err := crtest.Run(ctx, criu, "pre-dump", "-t", strconv.Itoa(pid), "-D", t.TempDir(), "--root", "/"); err != nil {
				t.Fatalf("pre-dump --root /: %v\n%s", err, res)
			}
			img := t.TempDir()
			dopts := []string{"dump", "-t", strconv.Itoa(pid), "-D", img, "--root", "/", "--ghost-fiemap", "--no-ghost-fiemap", "--irmap-scan-path", "/tmp", "-o", "dump.log"}
			if res, err := crtest.Run(ctx, criu, dopts...); err != nil {
				t.Fatalf("dump %v: %v\n%s", dopts, err, res)
			}
			cmd.Wait()
			pidfile := filepath.Join(img, "pid")
			if res, err := crtest.Run(ctx, criu, "restore", "-D", img, "-d", "--pidfile", pidfile, ropt, "-o", "restore.log"); err != nil {
				t.Fatalf("restore %s: %v\n%s", ropt, err, res)
			}
			b, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatal(err)
			}
			npid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			t.Cleanup(func() { crtest.Kill(npid) })
			n := crtest.Count(out, "tick ")
			crtest.WaitFor(t, out, "tick "+strconv.Itoa(n+3)+"\n", 20*time.Second)
		})
	}
}
