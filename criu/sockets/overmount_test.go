package sockets_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestOvermountedRefused: a UNIX socket whose file a mount over its
// directory hides (not deleted) fails the dump by name when the mount is
// in criu's mount namespace, whose mounts restore does not make again
// (in a container's, restore binds it under the mount moved aside: zdtm
// sk-unix-overmount00); the task runs on, its socket still reached by
// its path once the mount is gone (testdata/overmount.c).
func TestOvermountedRefused(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "overmount.c"), false)
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := crtest.Start(t, bin, dir, ready)
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, ready, "READY", 10*time.Second)
	if err := unix.Mount("overmount", dir, "tmpfs", 0, ""); err != nil {
		t.Fatalf("mount tmpfs over %s: %v", dir, err)
	}
	mounted := true
	umount := func() {
		if mounted {
			if err := unix.Unmount(dir, 0); err != nil {
				t.Errorf("umount %s: %v", dir, err)
			}
			mounted = false
		}
	}
	t.Cleanup(umount)
	imgs := t.TempDir()
	out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", imgs)
	if err == nil {
		t.Fatalf("dump succeeded:\n%s", out)
	}
	want := "unsupported: bound to " + dir + "/sk, whose file is not deleted but no longer at that path (a mount over its directory"
	if !strings.Contains(out, want) || !strings.Contains(out, "(socket:[") {
		t.Fatalf("dump failed without naming the socket and %q:\n%s", want, out)
	}
	if ents, _ := os.ReadDir(imgs); len(ents) > 0 {
		t.Errorf("the failed dump left %d files in the images dir", len(ents))
	}
	if !crtest.Alive(pid) {
		t.Fatal("the task did not survive the failed dump")
	}
	umount()
	if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	crtest.WaitFor(t, ready, "OK", 10*time.Second)
}
