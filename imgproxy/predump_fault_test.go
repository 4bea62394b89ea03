package imgproxy_test

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
	"github.com/criugo/criu/remoteimg"
)

// uffds counts the userfaultfds among pid's fds.
func uffds(pid int) int {
	ents, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + e.Name()); l == "anon_inode:[userfaultfd]" {
			n++
		}
	}
	return n
}

// TestPreDumpLostParentLeavesNoTracker: a pre-dump chain through the
// real daemons whose parent the cache lost (released) is abandoned: the
// next pre-dump naming it fails and leaves the task running; the
// memory-tracking userfaultfd the first pre-dump left in the task must
// not make every later dump fail ("fd 3 (anon_inode:[userfaultfd]):
// unsupported"): a dump meeting our own tracker of an abandoned chain
// closes it, and the task migrates with its memory intact.
func TestPreDumpLostParentLeavesNoTracker(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	work := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "memloop.c"), false)
	dir := t.TempDir()
	port := freePort(t)
	cacheSock, proxySock := filepath.Join(dir, "cache.sock"), filepath.Join(dir, "proxy.sock")
	startProc(t, nil, "image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", cacheSock)
	startProc(t, nil, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", proxySock)
	status := filepath.Join(dir, "status")
	cmd := crtest.Start(t, work, status)
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, status, "ready", 10*time.Second)
	ctx := context.Background()
	run := func(args ...string) (string, error) {
		return crtest.Run(ctx, criu, append(args, "-v4")...)
	}
	out := []string{"--remote", "--remote-socket", proxySock}
	p1, p2, final := filepath.Join(dir, "p1"), filepath.Join(dir, "p2"), filepath.Join(dir, "final")
	if log, err := run(append([]string{"pre-dump", "-t", strconv.Itoa(pid), "-D", p1, "--track-mem"}, out...)...); err != nil {
		t.Fatalf("pre-dump: %v\n%s", err, log)
	}
	if n := uffds(pid); n != 1 {
		t.Fatalf("after a tracking pre-dump the task has %d userfaultfds, want 1", n)
	}
	// The cache loses the parent.
	if log, err := run("image-cache", "--release", remoteimg.SnapshotID(p1), "--local-socket", cacheSock); err != nil {
		t.Fatalf("release: %v\n%s", err, log)
	}
	log, err := run(append([]string{"pre-dump", "-t", strconv.Itoa(pid), "-D", p2, "--prev-images-dir", "../p1", "--track-mem"}, out...)...)
	if err == nil {
		t.Fatalf("pre-dump on a parent the cache lost succeeded:\n%s", log)
	}
	t.Logf("pre-dump on a lost parent: %s", lastLine(log, "does not hold"))
	if !crtest.Alive(pid) {
		t.Fatal("the failed pre-dump killed the task")
	}
	// A full dump of the task (a new migration): it must go through.
	log, err = run(append([]string{"dump", "-t", strconv.Itoa(pid), "-D", final}, out...)...)
	if err != nil {
		t.Fatalf("dump after an abandoned chain: %v\n%s", err, log)
	}
	t.Logf("dump: %s", lastLine(log, "userfaultfd"))
	cmd.Wait()
	pidfile := filepath.Join(dir, "restored.pid")
	log, err = run("restore", "-D", final, "--remote", "--remote-socket", cacheSock, "--restore-detached", "--pidfile", pidfile)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, log)
	}
	b, _ := os.ReadFile(pidfile)
	rpid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if rpid != pid {
		t.Fatalf("restored pid %q, want %d", b, pid)
	}
	if n := uffds(rpid); n != 0 {
		t.Fatalf("restored task has %d userfaultfds", n)
	}
	syscall.Kill(rpid, syscall.SIGUSR2)
	crtest.Verdict(t, status, "ok", 10*time.Second)
}

// lastLine is the last line of log that contains s.
func lastLine(log, s string) string {
	var found string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			found = l
		}
	}
	return found
}
