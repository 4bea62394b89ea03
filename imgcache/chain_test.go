package imgcache_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// TestRemotePreDumpChain migrates a real process with a pre-dump chain
// through real daemons: criu pre-dump --remote, then criu dump --remote
// --prev-images-dir --track-mem writes only the pages written since
// (16 of 64 MiB), criu restore --remote follows the chain in the cache,
// and the restored process finds all of its memory; the cache frees the
// chain with the restored snapshot. A dump naming a parent the cache does
// not hold fails and leaves the task running; a restore whose parent the
// cache lost fails with an error naming it and leaves no process behind.
func TestRemotePreDumpChain(t *testing.T) {
	needBinary(t)
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler for the workload")
	}
	dir := t.TempDir()
	work := filepath.Join(dir, "chainwork")
	if out, err := exec.Command(cc, "-O2", "-static", "-o", work, "testdata/chainwork.c").CombinedOutput(); err != nil {
		t.Fatalf("build workload: %v\n%s", err, out)
	}
	p := newProcRig(t)
	cache := p.cache(t)
	p.proxy(t)
	ctx := context.Background()

	// criu runs a command and returns its log (stderr at -v4).
	criu := func(args ...string) (string, error) {
		cmd := exec.Command(criuBin, append(args, "-v4")...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	pagesRe := regexp.MustCompile(`(?:pre-)?dumped .*\bpages=(\d+) pages_skipped_parent=(\d+)`)
	pages := func(log string) (written, skipped int) {
		m := pagesRe.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no page counts in the log:\n%s", log)
		}
		written, _ = strconv.Atoi(m[1])
		skipped, _ = strconv.Atoi(m[2])
		return written, skipped
	}
	// start runs the workload in its own session and waits until it
	// has filled its memory.
	start := func(name string) (*exec.Cmd, string) {
		out := filepath.Join(dir, name+".status")
		cmd := exec.Command(work, out)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitStatus(t, out, "ready 0")
		return cmd, out
	}
	proxyArgs := []string{"--remote", "--remote-socket", p.proxySock}
	cacheArgs := []string{"--remote", "--remote-socket", p.cacheSock}

	t.Run("chain", func(t *testing.T) {
		cmd, status := start("chain")
		pid := strconv.Itoa(cmd.Process.Pid)
		pre, final := filepath.Join(dir, "c1"), filepath.Join(dir, "c2")
		log, err := criu(append([]string{"pre-dump", "-t", pid, "-D", pre, "--track-mem"}, proxyArgs...)...)
		if err != nil {
			t.Fatalf("pre-dump: %v\n%s", err, log)
		}
		if w, _ := pages(log); w < 16384 {
			t.Fatalf("pre-dump wrote %d pages, want the whole 64 MiB (16384) at least", w)
		}
		syscall.Kill(cmd.Process.Pid, syscall.SIGUSR1)
		waitStatus(t, status, "touched 1")
		log, err = criu(append([]string{"dump", "-t", pid, "-D", final, "--prev-images-dir", "../c1", "--track-mem"}, proxyArgs...)...)
		if err != nil {
			t.Fatalf("dump: %v\n%s", err, log)
		}
		w, skipped := pages(log)
		t.Logf("dump after pre-dump: %d pages written, %d left in the parent", w, skipped)
		if w < 16 || w > 512 || skipped < 16384-16 {
			t.Fatalf("dump wrote %d pages and left %d in the parent: want the 16 touched (plus stack and data) written, the rest left", w, skipped)
		}
		cmd.Wait() // dump killed it
		snaps, err := remote.ListSnapshots(ctx, p.cacheSock)
		if err != nil || len(snaps) != 2 {
			t.Fatalf("cache holds %+v (%v), want the pre-dump and the dump", snaps, err)
		}
		pidfile := filepath.Join(dir, "chain.pid")
		log, err = criu(append([]string{"restore", "-D", final, "--restore-detached", "--pidfile", pidfile}, cacheArgs...)...)
		if err != nil {
			t.Fatalf("restore: %v\n%s", err, log)
		}
		rpid := readPid(t, pidfile)
		defer reapKill(rpid)
		if rpid != cmd.Process.Pid {
			t.Fatalf("restored pid %d, dumped %d", rpid, cmd.Process.Pid)
		}
		syscall.Kill(rpid, syscall.SIGUSR2)
		waitStatus(t, status, "ok 1")
		if snaps, err := remote.ListSnapshots(ctx, p.cacheSock); err != nil || len(snaps) != 0 {
			t.Fatalf("after restore the cache holds %+v (%v), want the chain freed", snaps, err)
		}
	})

	t.Run("dump with a missing parent", func(t *testing.T) {
		cmd, status := start("ghost")
		pid := strconv.Itoa(cmd.Process.Pid)
		log, err := criu(append([]string{"dump", "-t", pid, "-D", filepath.Join(dir, "g2"), "--prev-images-dir", "../g1"}, proxyArgs...)...)
		parent := remoteimg.SnapshotID(filepath.Join(dir, "g1"))
		if err == nil || !strings.Contains(log, parent) || !strings.Contains(log, "does not hold") {
			t.Fatalf("dump with no parent in the cache: %v\n%s", err, log)
		}
		t.Logf("dump: %s", lastLine(log, "does not hold"))
		syscall.Kill(cmd.Process.Pid, syscall.SIGUSR2)
		waitStatus(t, status, "ok 0") // still running, untouched
	})

	t.Run("restore with a lost parent", func(t *testing.T) {
		cmd, _ := start("lost")
		pid := strconv.Itoa(cmd.Process.Pid)
		pre, final := filepath.Join(dir, "l1"), filepath.Join(dir, "l2")
		if log, err := criu(append([]string{"pre-dump", "-t", pid, "-D", pre, "--track-mem"}, proxyArgs...)...); err != nil {
			t.Fatalf("pre-dump: %v\n%s", err, log)
		}
		if log, err := criu(append([]string{"dump", "-t", pid, "-D", final, "--prev-images-dir", "../l1", "--track-mem"}, proxyArgs...)...); err != nil {
			t.Fatalf("dump: %v\n%s", err, log)
		}
		cmd.Wait()
		// The parent disappears from the cache (its kept copy is gone,
		// the cache restarted).
		if err := os.RemoveAll(filepath.Join(p.cacheDir, "snapshots", remoteimg.SnapshotID(pre))); err != nil {
			t.Fatal(err)
		}
		cache.kill()
		p.cache(t)
		log, err := criu(append([]string{"restore", "-D", final, "--restore-detached", "--pidfile", filepath.Join(dir, "lost.pid")}, cacheArgs...)...)
		if err == nil || !strings.Contains(log, remoteimg.SnapshotID(pre)) || !strings.Contains(log, "does not hold") {
			t.Fatalf("restore with its parent gone: %v\n%s", err, log)
		}
		t.Logf("restore: %s", lastLine(log, "does not hold"))
		if err := syscall.Kill(cmd.Process.Pid, 0); err == nil {
			reapKill(cmd.Process.Pid)
			t.Fatal("a failed restore left the process behind")
		}
	})
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

// waitStatus waits until the workload's status file says want.
func waitStatus(t *testing.T, path, want string) {
	t.Helper()
	var got []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got, _ = os.ReadFile(path)
		if strings.TrimSpace(string(got)) == want {
			return
		}
	}
	t.Fatalf("workload status %q, want %q", got, want)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("pidfile %q", b)
	}
	return pid
}

// reapKill kills a restored process (our orphan: TestMain made us a child
// subreaper) and reaps it.
func reapKill(pid int) {
	syscall.Kill(pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
}
