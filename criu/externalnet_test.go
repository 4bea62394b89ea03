package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestExternalNetnsCLI dumps a counter in a network namespace of its
// own with CRIU's `--external net[INODE]:KEY` on the command line (the
// namespace is neither saved nor made), then restores it, with ours and
// with CRIU 4.2, given another namespace with `--inherit-fd fd[3]:KEY`:
// the restored counter is in that namespace and goes on. Before, the
// command line refused net[...] (only RPC took it).
func TestExternalNetnsCLI(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	criu := crtest.Criu(t)
	tools := map[string]string{"ours": criu}
	if _, err := os.Stat(crtest.CRIU42()); err == nil {
		tools["criu-4.2"] = crtest.CRIU42()
	}
	for name, restorer := range tools {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := exec.Command(bin, out, "1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: unix.CLONE_NEWNET}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := cmd.Process.Pid
			t.Cleanup(func() { crtest.Kill(pid) })
			crtest.WaitFor(t, out, "tick 3", 20*time.Second)
			var st unix.Stat_t
			if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
				t.Fatal(err)
			}
			img := filepath.Join(dir, "img")
			os.Mkdir(img, 0o755)
			ext := fmt.Sprintf("net[%d]:extnet", st.Ino)
			if res, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-o", "dump.log", "--external", ext); err != nil {
				log, _ := os.ReadFile(filepath.Join(img, "dump.log"))
				t.Fatalf("dump: %v\n%s\n%s", err, res, log)
			}
			cmd.Wait()
			if m, _ := filepath.Glob(filepath.Join(img, "ifaddr-*.img")); len(m) > 0 {
				t.Errorf("the external namespace's addresses were saved: %v", m)
			}
			nsName := fmt.Sprintf("criugo-extnet-%d", os.Getpid())
			if o, err := exec.Command("ip", "netns", "add", nsName).CombinedOutput(); err != nil {
				t.Fatalf("ip netns add: %v: %s", err, o)
			}
			t.Cleanup(func() { exec.Command("ip", "netns", "del", nsName).Run() })
			nsf, err := os.Open(filepath.Join("/run/netns", nsName))
			if err != nil {
				t.Fatal(err)
			}
			defer nsf.Close()
			var want unix.Stat_t
			if err := unix.Fstat(int(nsf.Fd()), &want); err != nil {
				t.Fatal(err)
			}
			before := ticks(out)
			pidfile := filepath.Join(dir, "pid")
			r := exec.Command(restorer, "restore", "-D", img, "-o", "restore.log", "-v4", "-d", "--pidfile", pidfile, "--inherit-fd", "fd[3]:extnet")
			r.ExtraFiles = []*os.File{nsf}
			if res, err := r.CombinedOutput(); err != nil {
				log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
				t.Fatalf("restore: %v\n%s\n%s", err, res, log)
			}
			b, err := os.ReadFile(pidfile)
			if err != nil {
				t.Fatal(err)
			}
			rp, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			t.Cleanup(func() { crtest.Kill(rp) })
			var got unix.Stat_t
			if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", rp), &got); err != nil {
				t.Fatal(err)
			}
			if got.Ino != want.Ino {
				t.Errorf("restored in network namespace %d, want the inherited %d", got.Ino, want.Ino)
			}
			crtest.WaitFor(t, out, "tick "+strconv.Itoa(before+5), 20*time.Second)
		})
	}
}
