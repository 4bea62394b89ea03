package runctest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// podman runs podman with its own storage (vfs), run and tmp dirs in
// dir, runc running criu (--runtime-flag criu=PATH) and, for Podman's
// own version check of criu ("at least CRIU 31100", through go-criu),
// that criu first in PATH.
type podman struct {
	t    *testing.T
	dir  string
	criu string
}

func (p *podman) run(args ...string) (string, error) {
	p.t.Helper()
	bin := filepath.Join(p.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(bin, "criu")); err != nil {
		if err := os.Symlink(p.criu, filepath.Join(bin, "criu")); err != nil {
			p.t.Fatal(err)
		}
	}
	cmd := exec.Command("podman", append([]string{"--root", filepath.Join(p.dir, "root"), "--runroot", filepath.Join(p.dir, "run"),
		"--tmpdir", filepath.Join(p.dir, "tmp"), "--storage-driver", "vfs", "--events-backend", "file",
		"--runtime", "runc", "--runtime-flag", "criu=" + p.criu}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = nil
	err := cmd.Run()
	return out.String(), err
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		// criu's own logs of a failed checkpoint or restore say why.
		for _, pat := range []string{"dump.log", "restore.log"} {
			logs, _ := filepath.Glob(filepath.Join(p.dir, "root", "vfs-containers", "*", "userdata", pat))
			for _, l := range logs {
				out += logTail(l)
			}
		}
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// logCounts are the container's counts in podman logs, checked to be
// 1, 2, 3... (none lost, none again).
// seccompOf is the seccomp mode and filter count of the container's
// init (/proc/PID/status of podman inspect's State.Pid).
func (p *podman) seccompOf(name string) string {
	p.t.Helper()
	pid := strings.TrimSpace(p.must("inspect", "-f", "{{.State.Pid}}", name))
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		p.t.Fatal(err)
	}
	var mode, n string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
			mode = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "Seccomp_filters:"); ok {
			n = strings.TrimSpace(v)
		}
	}
	return "mode " + mode + ", " + n + " filter(s)"
}

func (p *podman) logCounts(name string) int {
	p.t.Helper()
	out := p.must("logs", name)
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		n++
		if v, err := strconv.Atoi(sc.Text()); err != nil || v != n {
			p.t.Fatalf("podman logs line %d is %q, want %d:\n%s", n, sc.Text(), n, out)
		}
	}
	return n
}

// waitLast waits until the last line of the container's log is a
// count of at least n, each line a count one past the line before or
// back to a count already logged (a restore of a --leave-running
// checkpoint counts again from the checkpoint's).
func (p *podman) waitLast(name string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out := p.must("logs", name)
		prev, last := 0, 0
		for _, l := range strings.Fields(out) {
			v, err := strconv.Atoi(l)
			if err != nil || v > prev+1 {
				p.t.Fatalf("podman logs: %q after %d: a count was lost:\n%s", l, prev, out)
			}
			prev, last = v, v
		}
		if last >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("podman logs %s: the count does not reach %d", name, n)
}

func (p *podman) waitLogs(name string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if p.logCounts(name) > n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("podman logs %s: not past %d counts", name, n)
}

// TestPodmanCheckpointRestore: Podman checkpoints and restores a
// container of a busybox image imported offline (podman import), in
// place and then through an exported archive (checkpoint --export, rm,
// restore --import, as for a migration), with our criu and CRIU 4.2.
func TestPodmanCheckpointRestore(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed")
	}
	each(t, func(t *testing.T, cr tool) {
		// Podman wants its runroot under 50 characters.
		dir, err := os.MkdirTemp("", "crgo-pd")
		if err != nil {
			t.Fatal(err)
		}
		p := &podman{t: t, dir: dir, criu: cr.path}
		t.Cleanup(func() {
			p.run("rm", "-fa")
			exec.Command("umount", "-R", filepath.Join(dir, "run")).Run()
			// conmon's exit command (podman container cleanup) may
			// still write there a moment after the rm.
			for i := 0; i < 10; i++ {
				os.RemoveAll(dir)
				time.Sleep(100 * time.Millisecond)
				if _, err := os.Stat(dir); err != nil {
					break
				}
			}
		})
		// A rootfs tarball, made as the bundle's.
		c := &container{t: t, bundle: filepath.Join(dir, "bundle")}
		rootfs := c.makeRootfs()
		tarball := filepath.Join(dir, "rootfs.tar")
		if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
		p.must("import", tarball, "localhost/crgo-busybox")
		const name = "crgo-podman"
		// This machine lets no process raise an rlimit (no
		// CAP_SYS_RESOURCE): the container's limits stay below ours.
		p.must("run", "-d", "--name", name, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
			"localhost/crgo-busybox", "sh", "-c", "pad=$(seq 100000); i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done")
		p.waitLogs(name, 3)
		sc := p.seccompOf(name)
		p.must("container", "checkpoint", name)
		p.must("container", "restore", name)
		n := p.logCounts(name)
		p.waitLogs(name, n+2)
		// Podman's default seccomp profile: the same after restore.
		if got := p.seccompOf(name); got != sc {
			t.Errorf("the container's init has seccomp %s after restore, %s before", got, sc)
		}
		// A pre-checkpoint (runc --pre-dump), then a checkpoint on it
		// (--parent-path), with the statistics Podman reads from
		// stats-dump in its work path.
		// CRIU 4.2 cannot track memory here (no soft-dirty bits).
		if out, err := p.run("container", "checkpoint", "--pre-checkpoint", name); cr.ref {
			if err == nil {
				t.Fatalf("CRIU 4.2 pre-checkpointed on a kernel without soft-dirty:\n%s", out)
			}
			t.Logf("%s: podman container checkpoint --pre-checkpoint: %v", cr.name, strings.TrimSpace(out))
		} else {
			if err != nil {
				logs, _ := filepath.Glob(filepath.Join(dir, "root", "vfs-containers", "*", "userdata", "dump.log"))
				for _, l := range logs {
					out += logTail(l)
				}
				t.Fatalf("podman container checkpoint --pre-checkpoint: %v\n%s", err, out)
			}
			n = p.logCounts(name)
			p.waitLogs(name, n+2)
			p.must("container", "checkpoint", "--with-previous", "--keep", name)
			found, _ := filepath.Glob(filepath.Join(dir, "root", "vfs-containers", "*", "userdata"))
			if len(found) != 1 {
				t.Fatalf("the container's userdata: %v", found)
			}
			if st := dumpStats(t, found[0]); st.GetPagesSkippedParent() == 0 {
				t.Errorf("the checkpoint --with-previous left no page in the pre-checkpoint: %v", st)
			} else {
				t.Logf("%s: checkpoint --with-previous wrote %d pages, left %d in the pre-checkpoint", cr.name, st.GetPagesWritten(), st.GetPagesSkippedParent())
			}
			p.must("container", "restore", name)
			n = p.logCounts(name)
			p.waitLogs(name, n+2)
		}
		archive := filepath.Join(dir, "ckpt.tar.gz")
		if out := p.must("container", "checkpoint", "--export", archive, name); strings.Contains(out, "Can't stat") {
			t.Errorf("podman container checkpoint --export: %s", out)
		}
		p.must("rm", "-f", name)
		p.must("container", "restore", "--import", archive)
		n = p.logCounts(name)
		p.waitLogs(name, n+2)
		if got := p.seccompOf(name); got != sc {
			t.Errorf("the container's init has seccomp %s after restore --import, %s before", got, sc)
		}
		// --leave-running: the container counts on through the
		// checkpoint; its archive, imported once it is removed, goes on
		// from the checkpoint's count.
		left := filepath.Join(dir, "left.tar.gz")
		before := p.logCounts(name)
		p.must("container", "checkpoint", "--leave-running", "--export", left, name)
		n = p.logCounts(name)
		p.waitLogs(name, n+2)
		p.must("rm", "-f", name)
		p.must("container", "restore", "--import", left)
		// Its log goes on past what it had logged (the lines after the
		// checkpoint come once more, as the restored task counts them
		// again): the count of the checkpoint, then on.
		p.waitLast(name, before+3)
		t.Logf("%s: %d log lines through podman checkpoints and restores, one through an exported archive, one --leave-running; seccomp %s", cr.name, len(strings.Fields(p.must("logs", name))), sc)
	})
}
