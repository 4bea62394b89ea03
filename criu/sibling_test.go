package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// TestRestoreSibling restores a counter with --restore-detached
// --restore-sibling, with criu a child of the test, as LXC runs it: the
// restored root is then the test's child, not criu's (which has exited),
// it goes on counting, traced by no one, and the test reaps it. Once with
// the counter in criu's pid namespace (its pid kept), once as the init
// of a pid namespace of its own (a container's), and again with CRIU 4.2
// restoring our images when it is there. Without --restore-detached the
// option is refused, with CRIU's words.
func TestRestoreSibling(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	criu := crtest.Criu(t)
	if res, err := crtest.Run(context.Background(), criu, "restore", "-D", t.TempDir(), "--restore-sibling"); err == nil || !strings.Contains(res, "--restore-sibling only makes sense with --restore-detached") {
		t.Errorf("--restore-sibling alone: %v\n%s", err, res)
	}
	tools := restorers(criu)
	for _, pidns := range []bool{false, true} {
		for name, restorer := range tools {
			sub := name
			if pidns {
				sub += "/pidns"
			}
			t.Run(sub, func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "out.txt")
				cmd := exec.Command(bin, out, "1")
				cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
				if pidns {
					cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWPID
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pid := cmd.Process.Pid
				t.Cleanup(func() { crtest.Kill(pid) })
				crtest.WaitFor(t, out, "tick 5", 20*time.Second)
				img := filepath.Join(dir, "img")
				if err := os.Mkdir(img, 0o755); err != nil {
					t.Fatal(err)
				}
				if res, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-o", "dump.log"); err != nil {
					t.Fatalf("dump: %v\n%s", err, res)
				}
				cmd.Wait()
				before := ticks(out)
				had := children(os.Getpid()) // other tests' orphans too
				if res, err := crtest.Run(context.Background(), restorer, "restore", "-D", img, "-o", "restore.log", "-v4", "--restore-detached", "--restore-sibling"); err != nil {
					log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
					t.Fatalf("restore: %v\n%s\n%s", err, res, log)
				}
				var kids []int
				for _, k := range children(os.Getpid()) {
					if !slices.Contains(had, k) {
						kids = append(kids, k)
					}
				}
				for _, k := range kids {
					t.Cleanup(func() { crtest.Kill(k) })
				}
				if len(kids) != 1 {
					t.Fatalf("the test's new children after the restore: %v, want the restored root only", kids)
				}
				root := kids[0]
				if !pidns && root != pid {
					t.Errorf("restored root %d, want the dumped pid %d", root, pid)
				}
				st, err := procfs.ReadStatus(root)
				if err != nil {
					t.Fatal(err)
				}
				if st["PPid"] != strconv.Itoa(os.Getpid()) || st["TracerPid"] != "0" {
					t.Errorf("restored root %d: parent %s, tracer %s; want the test (%d), none", root, st["PPid"], st["TracerPid"], os.Getpid())
				}
				crtest.WaitFor(t, out, "tick "+strconv.Itoa(before+20), 20*time.Second)
				if err := unix.Kill(root, unix.SIGKILL); err != nil {
					t.Fatal(err)
				}
				var ws unix.WaitStatus
				if _, err := unix.Wait4(root, &ws, 0, nil); err != nil || !ws.Signaled() {
					t.Errorf("reap the restored root %d: %v (status %#x)", root, err, uint32(ws))
				}
			})
		}
	}
}
