package runctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

// counter is the container's program: a shell counting ten times a
// second into /data/log (the rootfs, seen by the test) and /run/count
// (a tmpfs of the container's own, saved with the images; /run/started
// is written only once, before the first count). The count
// lives in the shell's memory only, so a restore that does not bring
// the memory back starts again at 1.
const counter = `echo started >/run/started; pad=$(seq 100000); i=0; while :; do i=$((i+1)); echo $i >>/data/log; echo $i >/run/count; sleep 0.1; done`

// tool is one criu the scenarios run with: ours and CRIU 4.2.
type tool struct {
	name, path string
	ref        bool
}

// tools are our criu and, when installed, CRIU 4.2; the test skips
// unless runc and a static busybox are installed.
func tools(t *testing.T) []tool {
	t.Helper()
	crtest.RequireRoot(t)
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc is not installed")
	}
	if _, err := busybox(); err != nil {
		t.Skip(err)
	}
	crtest.Subreaper(t)
	ts := []tool{{"criu-go", crtest.Criu(t), false}}
	if ref := crtest.CRIU42(); ref != "" {
		if _, err := os.Stat(ref); err == nil {
			ts = append(ts, tool{"criu-4.2", ref, true})
		} else {
			t.Logf("reference CRIU 4.2 absent: %v", err)
		}
	}
	return ts
}

// each runs f once per tool, as a subtest named by it.
func each(t *testing.T, f func(t *testing.T, c tool)) {
	for _, c := range tools(t) {
		t.Run(c.name, func(t *testing.T) { f(t, c) })
	}
}

// busybox is a statically linked busybox (Debian's busybox-static).
func busybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// A static executable has no PT_INTERP: no dynamic loader named.
		if !bytes.Contains(b, []byte("/lib64/ld-linux")) && !bytes.Contains(b, []byte("/lib/ld-linux")) {
			return p, nil
		}
	}
	return "", fmt.Errorf("a static busybox is not installed (busybox-static)")
}

// container is one runc container of a bundle made by the test, driven
// by `runc --root STATE --criu CRIU`.
type container struct {
	t      *testing.T
	id     string
	bundle string
	state  string // runc's --root
	criu   string
	pid    int            // the container's init, as runc last reported it
	cfg    map[string]any // its config.json
}

// spec edits the config.json `runc spec` wrote.
type spec func(cfg map[string]any)

// noPidns removes the pid namespace from the config: the container's
// tasks keep their host pids.
func noPidns(cfg map[string]any) {
	linux := cfg["linux"].(map[string]any)
	var keep []any
	for _, ns := range linux["namespaces"].([]any) {
		if ns.(map[string]any)["type"] != "pid" {
			keep = append(keep, ns)
		}
	}
	linux["namespaces"] = keep
}

// withSeccomp gives the container a seccomp filter, as Docker's and
// Podman's default profiles give one: everything allowed but
// personality(2), which fails with EPERM.
func withSeccomp(cfg map[string]any) {
	cfg["linux"].(map[string]any)["seccomp"] = map[string]any{
		"defaultAction": "SCMP_ACT_ALLOW",
		"architectures": []string{"SCMP_ARCH_X86_64"},
		"syscalls": []any{map[string]any{
			"names": []string{"personality"}, "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
		}},
	}
}

// seccompOf is the seccomp mode and number of filters of the
// container's init (/proc/PID/status).
func (c *container) seccompOf() string {
	c.t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
	if err != nil {
		c.t.Fatal(err)
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

// newContainer makes a bundle (busybox rootfs, runc spec, the counter,
// a tmpfs on /run) in a fresh directory.
func newContainer(t *testing.T, criu string, edits ...spec) *container {
	t.Helper()
	dir := t.TempDir()
	c := &container{t: t, id: fmt.Sprintf("crgo%d-%d", os.Getpid(), time.Now().UnixNano()%1e6),
		bundle: filepath.Join(dir, "bundle"), state: filepath.Join(dir, "state"), criu: criu}
	c.makeRootfs()
	if out, err := exec.Command("runc", "spec", "--bundle", c.bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(c.bundle, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"sh", "-c", counter}
	cfg["root"].(map[string]any)["readonly"] = false
	cfg["mounts"] = append(cfg["mounts"].([]any), map[string]any{
		"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "nodev", "mode=755"},
	})
	for _, e := range edits {
		e(cfg)
	}
	c.cfg = cfg
	if raw, err = json.MarshalIndent(cfg, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.destroy)
	return c
}

// makeRootfs makes the bundle's rootfs: busybox and the directories
// the container's mounts and the counter need.
func (c *container) makeRootfs() string {
	t := c.t
	t.Helper()
	root := filepath.Join(c.bundle, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "run", "data", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, _ := busybox()
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"sh", "sleep", "nc", "cat", "echo", "seq"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", l)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// runc runs runc with the container's state root and criu; stdio are
// fresh pipes (a detached container keeps them, as with a supervisor:
// CRIU cannot dump a file of the host's mount namespace such as
// /dev/null), the output is drained until every holder closed it.
func (c *container) runc(args ...string) (string, error) {
	c.t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		c.t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command("runc", append([]string{"--root", c.state, "--criu", c.criu}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		c.t.Fatal(err)
	}
	// runc's own output ends when it exits; a detached container holds
	// the pipes on, so read what runc wrote until then, not to EOF.
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(&out, outR)
	}()
	err = cmd.Wait()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
	c.t.Cleanup(func() { inW.Close(); outR.Close() })
	return out.String(), err
}

// mustRunc is runc, failing the test on error.
func (c *container) mustRunc(args ...string) string {
	c.t.Helper()
	out, err := c.runc(args...)
	if err != nil {
		c.t.Fatalf("runc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// start runs the container detached and waits for its first counts.
func (c *container) start() {
	c.t.Helper()
	c.mustRunc("run", "-d", "--bundle", c.bundle, c.id)
	c.status("running")
	c.waitCount(3)
}

// status checks runc's status of the container (and notes its pid).
func (c *container) status(want string) {
	c.t.Helper()
	out, err := c.runc("state", c.id)
	if want == "" {
		if err == nil {
			c.t.Fatalf("runc state: the container still exists:\n%s", out)
		}
		return
	}
	if err != nil {
		c.t.Fatalf("runc state: %v\n%s", err, out)
	}
	var st struct {
		Status string `json:"status"`
		Pid    int    `json:"pid"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &st); err != nil {
		c.t.Fatalf("runc state: %v\n%s", err, out)
	}
	if st.Status != want {
		c.t.Fatalf("runc state: %s, want %s", st.Status, want)
	}
	c.pid = st.Pid
}

// counts is the log the counter wrote, as numbers.
func (c *container) counts() []int {
	c.t.Helper()
	f, err := os.Open(filepath.Join(c.bundle, "rootfs", "data", "log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var n []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, err := strconv.Atoi(sc.Text())
		if err != nil {
			break // a line being written
		}
		n = append(n, v)
	}
	return n
}

// waitCount waits until the log holds more than n counts.
func (c *container) waitCount(n int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if len(c.counts()) > n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("the counter did not get past %d lines (it has %d)", n, len(c.counts()))
}

// consecutive checks that the log is 1, 2, 3...: the counter went on
// from its own memory across every restore, none missing, none again.
func (c *container) consecutive() {
	c.t.Helper()
	n := c.counts()
	for i, v := range n {
		if v != i+1 {
			c.t.Fatalf("log line %d is %d, want %d (log %v)", i+1, v, i+1, n[max(0, i-5):min(len(n), i+5)])
		}
	}
}

// checkTmpfs checks the container's /run after a restore: the file
// written once before the first count came back from the images, and
// the counter writes there again.
func (c *container) checkTmpfs(dumpedAt int) {
	c.t.Helper()
	run := fmt.Sprintf("/proc/%d/root/run/", c.pid)
	if b, err := os.ReadFile(run + "started"); err != nil || string(b) != "started\n" {
		c.t.Errorf("the container's tmpfs lost /run/started: %q, %v", b, err)
	}
	b, err := os.ReadFile(run + "count")
	if err != nil {
		c.t.Fatalf("read the container's tmpfs: %v", err)
	}
	if v, _ := strconv.Atoi(strings.TrimSpace(string(b))); v <= dumpedAt {
		c.t.Errorf("/run/count (tmpfs) is %d after restore, the log was at %d", v, dumpedAt)
	}
}

// checkpoint runs runc checkpoint into img (with extra runc options);
// the killed container's init is reaped (we are its subreaper).
func (c *container) checkpoint(img string, extra ...string) {
	c.t.Helper()
	tree := descendants(c.pid)
	args := append([]string{"checkpoint", "--image-path", img}, extra...)
	if out, err := c.runc(append(args, c.id)...); err != nil {
		c.t.Fatalf("runc checkpoint: %v\n%s\n%s", err, out, logTail(filepath.Join(img, "dump.log")))
	}
	if !contains(extra, "--leave-running") && !contains(extra, "--pre-dump") {
		for _, p := range tree {
			crtest.Reap(p)
		}
		reapZombies()
		c.status("")
	}
}

// restore runs runc restore -d from img and checks that it runs again.
func (c *container) restore(img string) {
	c.t.Helper()
	if out, err := c.runc("restore", "-d", "--image-path", img, "--bundle", c.bundle, c.id); err != nil {
		c.t.Fatalf("runc restore: %v\n%s\n%s", err, out, logTail(filepath.Join(img, "restore.log")))
	}
	c.status("running")
	n := len(c.counts())
	c.waitCount(n + 2)
}

// destroy kills and deletes the container, if it is still there.
func (c *container) destroy() {
	var tree []int
	if c.pid > 0 && crtest.Alive(c.pid) {
		tree = descendants(c.pid)
	}
	exec.Command("runc", "--root", c.state, "delete", "-f", c.id).Run()
	// A tree runc no longer knows (left running by a configuration
	// file's leave-running) is killed here.
	for _, p := range tree {
		crtest.Kill(p)
	}
	reapZombies()
}

// descendants are pid and the tasks below it (the counter's sleep):
// killed by the dump, each becomes a zombie of ours to reap, or its pid
// stays taken and the restore fails with EEXIST.
func descendants(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		for _, tk := range tasks {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], tk.Name()))
			for _, f := range strings.Fields(string(b)) {
				if v, err := strconv.Atoi(f); err == nil {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// reapZombies reaps every child of ours that has exited (a task of the
// tree forked after descendants looked); it never blocks.
func reapZombies() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil || pid <= 0 {
			return
		}
	}
}

// dumpStats is the dump's stats-dump.
func dumpStats(t *testing.T, img string) *images.DumpStatsEntry {
	t.Helper()
	d, err := image.NewDir(img)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var se images.StatsEntry
	if err := image.ReadOne(context.Background(), d, "stats-dump", &se); err != nil {
		t.Fatal(err)
	}
	return se.GetDump()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// logTail is the end of a criu log, for a failure's message.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path + ": " + err.Error()
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return path + ":\n" + string(b)
}

// TestRuncCheckpointRestoreTwice: runc checkpoint, runc restore, and
// again from the restored container; the counter goes on from its
// memory each time, and its tmpfs comes back with its file. With runc
// spec's own config (pid, net, ipc, uts and mount namespaces of the
// container's own), and without its pid namespace.
func TestRuncCheckpointRestoreTwice(t *testing.T) {
	t.Run("default", func(t *testing.T) { twice(t) })
	t.Run("no-pidns", func(t *testing.T) { twice(t, noPidns) })
	t.Run("seccomp", func(t *testing.T) { twice(t, withSeccomp) })
}

func twice(t *testing.T, edits ...spec) {
	each(t, func(t *testing.T, cr tool) {
		c := newContainer(t, cr.path, edits...)
		c.start()
		sc := c.seccompOf()
		if _, ok := c.cfg["linux"].(map[string]any)["seccomp"]; ok && !strings.HasPrefix(sc, "mode 2,") {
			t.Fatalf("the container started without its filter: seccomp %s", sc)
		}
		for round := 1; round <= 2; round++ {
			img := filepath.Join(t.TempDir(), "img")
			c.checkpoint(img)
			dumped := c.counts()
			c.restore(img)
			c.checkTmpfs(dumped[len(dumped)-1])
			// The container keeps its seccomp filter (runc's, from
			// config.json): same mode, as many filters.
			if got := c.seccompOf(); got != sc {
				t.Errorf("round %d: the container's init has seccomp %s after restore, %s before", round, got, sc)
			}
		}
		c.consecutive()
		t.Logf("%s: %d counts, two checkpoints and restores, seccomp %s", cr.name, len(c.counts()), sc)
	})
}

// TestRuncLeaveRunning: runc checkpoint --leave-running lets the
// container count on; once it is deleted, its restore goes on from the
// count of the checkpoint.
func TestRuncLeaveRunning(t *testing.T) {
	each(t, func(t *testing.T, cr tool) {
		c := newContainer(t, cr.path)
		c.start()
		img := filepath.Join(t.TempDir(), "img")
		c.checkpoint(img, "--leave-running")
		c.status("running")
		at := len(c.counts())
		c.waitCount(at + 3)
		tree := descendants(c.pid)
		c.mustRunc("delete", "-f", c.id)
		for _, p := range tree {
			crtest.Reap(p)
		}
		reapZombies()
		before := c.counts()
		c.restore(img)
		after := c.counts()[len(before):]
		// The restored counter starts again from the checkpoint's count:
		// at most the last one written before the delete, then one by one.
		if after[0] > before[len(before)-1] || after[0] < 2 {
			t.Fatalf("first count after restore %d, the log was at %d when deleted", after[0], before[len(before)-1])
		}
		for i := 1; i < len(after); i++ {
			if after[i] != after[i-1]+1 {
				t.Fatalf("counts after restore %v: not one by one", after)
			}
		}
		t.Logf("%s: checkpointed while running at about %d, deleted at %d, restored from %d", cr.name, at, before[len(before)-1], after[0]-1)
	})
}

// TestRuncPreDump: runc checkpoint --pre-dump (track_mem), then runc
// checkpoint --parent-path onto it (parent_img), then restore. CRIU 4.2
// cannot track memory on this kernel (no soft-dirty bits); ours tracks
// it with userfaultfd write protection, and the final dump refers to
// the pre-dump's pages.
func TestRuncPreDump(t *testing.T) {
	each(t, func(t *testing.T, cr tool) {
		c := newContainer(t, cr.path)
		c.start()
		dir := t.TempDir()
		pre, img := filepath.Join(dir, "pre"), filepath.Join(dir, "img")
		out, err := c.runc("checkpoint", "--pre-dump", "--image-path", pre, c.id)
		if cr.ref {
			// CRIU 4.2 here: mem_track false, runc refuses the pre-dump.
			if err == nil {
				t.Fatalf("CRIU 4.2 pre-dumped on a kernel without soft-dirty:\n%s", out)
			}
			t.Logf("%s: runc checkpoint --pre-dump: %v: %s", cr.name, err, strings.TrimSpace(out))
			c.status("running")
			return
		}
		if err != nil {
			t.Fatalf("runc checkpoint --pre-dump: %v\n%s\n%s", err, out, logTail(filepath.Join(pre, "dump.log")))
		}
		c.status("running")
		c.waitCount(len(c.counts()) + 2)
		c.checkpoint(img, "--parent-path", "../pre")
		if l, err := os.Readlink(filepath.Join(img, "parent")); err != nil || l != "../pre" {
			t.Errorf("img/parent: %q, %v; want a link to ../pre", l, err)
		}
		t.Logf("pre-dump: %v", dumpStats(t, pre))
		st := dumpStats(t, img)
		if st.GetPagesSkippedParent() == 0 {
			t.Errorf("the dump onto the pre-dump left no page in it: %v\n%s", st, logTail(filepath.Join(img, "dump.log")))
		}
		t.Logf("%s: the dump wrote %d pages, left %d in the pre-dump", cr.name, st.GetPagesWritten(), st.GetPagesSkippedParent())
		c.restore(img)
		c.consecutive()
	})
}

// runcConf is the file runc names as config_file when it exists.
const runcConf = "/etc/criu/runc.conf"

// writeRuncConf writes /etc/criu/runc.conf for the test, and puts back
// what was there (or nothing) after it.
func writeRuncConf(t *testing.T, text string) {
	t.Helper()
	old, err := os.ReadFile(runcConf)
	had := err == nil
	if err := os.MkdirAll(filepath.Dir(runcConf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runcConf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if had {
			os.WriteFile(runcConf, old, 0o644)
		} else {
			os.Remove(runcConf)
		}
	})
}

// TestRuncConfigFile: /etc/criu/runc.conf wins over what runc sends, as
// in CRIU: leave-running there keeps the container running after a
// plain runc checkpoint (runc sends leave_running false), and its
// log-file takes the log from runc's dump.log.
func TestRuncConfigFile(t *testing.T) {
	each(t, func(t *testing.T, cr tool) {
		c := newContainer(t, cr.path)
		c.start()
		dir := t.TempDir()
		log := filepath.Join(dir, "from-runc-conf.log")
		writeRuncConf(t, "# written by TestRuncConfigFile\nleave-running\nlog-file "+log+"\n")
		img := filepath.Join(dir, "img")
		out, err := c.runc("checkpoint", "--image-path", img, c.id)
		if err != nil {
			t.Fatalf("runc checkpoint: %v\n%s\n%s", err, out, logTail(log))
		}
		// runc deletes a container it believes stopped; the tree itself
		// must run on.
		if !crtest.Alive(c.pid) {
			t.Fatalf("the container's init %d is gone: leave-running of %s not applied", c.pid, runcConf)
		}
		n := len(c.counts())
		c.waitCount(n + 2)
		if b, err := os.ReadFile(log); err != nil || len(b) == 0 {
			t.Errorf("log-file of %s: %q, %v", runcConf, b, err)
		}
		if _, err := os.Stat(filepath.Join(img, "dump.log")); err == nil {
			t.Errorf("dump.log written although %s names another log", runcConf)
		}
		t.Logf("%s: runc checkpoint left the container running (runc.conf's leave-running), log in %s", cr.name, log)
	})
}

// startDaemon runs our criu image-cache or image-proxy (args) and waits
// until it says it is ready (--status-fd).
func startDaemon(t *testing.T, criu string, args ...string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var log bytes.Buffer
	cmd := exec.Command(criu, append(args, "--status-fd", "3", "-v4")...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s:\n%s", args[0], log.String())
		}
	})
	r.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b [1]byte
	if n, err := r.Read(b[:]); n != 1 {
		t.Fatalf("%s not ready: %v\n%s", args[0], err, log.String())
	}
}

// TestRuncRemote: diskless migration of a runc container. runc.conf
// says remote: runc checkpoint streams the images through a local
// criu image-proxy to an image-cache (over loopback TCP), its image
// path gets none (runc's own descriptors.json and the log only), and
// runc restore from the same path reads them from the cache (the
// snapshot id derives from the image path as the client names it).
// CRIU 4.2 has no remote images: it refuses runc.conf's remote.
func TestRuncRemote(t *testing.T) {
	each(t, func(t *testing.T, cr tool) {
		c := newContainer(t, cr.path)
		c.start()
		dir := t.TempDir()
		img := filepath.Join(dir, "img")
		cacheSock, proxySock := filepath.Join(dir, "cache.sock"), filepath.Join(dir, "proxy.sock")
		if cr.ref {
			writeRuncConf(t, "remote\nremote-socket "+proxySock+"\n")
			out, err := c.runc("checkpoint", "--image-path", img, c.id)
			if err == nil {
				t.Fatalf("CRIU 4.2 took runc.conf's remote:\n%s", out)
			}
			c.status("running")
			t.Logf("%s: %v: %s", cr.name, err, strings.TrimSpace(out))
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		startDaemon(t, cr.path, "image-cache", "--address", "127.0.0.1", "--port", port, "-D", filepath.Join(dir, "cache"), "--local-socket", cacheSock)
		startDaemon(t, cr.path, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", proxySock)

		writeRuncConf(t, "remote\nremote-socket "+proxySock+"\n")
		c.checkpoint(img)
		ents, _ := os.ReadDir(img)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
			if strings.HasSuffix(e.Name(), ".img") || e.Name() == "stats-dump" {
				t.Errorf("image %s written to the source's image path", e.Name())
			}
		}
		list, err := crtest.Run(context.Background(), cr.path, "image-cache", "--list", "--local-socket", cacheSock)
		if err != nil || !strings.Contains(list, "finished") {
			t.Fatalf("image-cache --list: %v\n%s", err, list)
		}
		writeRuncConf(t, "remote\nremote-socket "+cacheSock+"\n")
		c.restore(img)
		c.consecutive()
		t.Logf("%s: image path held %v; the cache:\n%s", cr.name, names, list)
	})
}

// tcpPair is the container's program for --tcp-established: a busybox
// nc server and client on the container's loopback, the client sending
// the count, the server writing what it gets to /data/got.
const tcpPair = `sleep 1000000 | nc -l -p 5000 >/data/got & sleep 0.3; i=0; while :; do i=$((i+1)); echo $i; echo $i >>/data/log; sleep 0.1; done | nc 127.0.0.1 5000`

// TestRuncTCPEstablished: runc checkpoint/restore --tcp-established of
// a container with a TCP connection on the loopback of a network
// namespace made for it (ip netns, its lo up, named by path in
// config.json, as a CNI plugin does): runc names it external
// (net[INO]:extRootNetNS) at checkpoint and gives it back by
// inherit_fd at restore. CRIU 4.2 restores it, the connection going
// on; ours refuses that external netns by name at dump (the container
// runs on). (A connection on the loopback of a netns runc made itself
// restores with neither: runc always sends empty_ns CLONE_NEWNET, so
// the restored netns's lo is down and both fail with ENETUNREACH.)
func TestRuncTCPEstablished(t *testing.T) {
	each(t, func(t *testing.T, cr tool) {
		ns := fmt.Sprintf("crgo-tcp-%d", os.Getpid())
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v\n%s", err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("ip link set lo up: %v\n%s", err, out)
		}
		c := newContainer(t, cr.path, noPidns, func(cfg map[string]any) {
			cfg["process"].(map[string]any)["args"] = []string{"sh", "-c", tcpPair}
			for _, n := range cfg["linux"].(map[string]any)["namespaces"].([]any) {
				if m := n.(map[string]any); m["type"] == "network" {
					m["path"] = "/run/netns/" + ns
				}
			}
		})
		c.start()
		got := filepath.Join(c.bundle, "rootfs", "data", "got")
		crtest.WaitFor(t, got, "3\n", 10*time.Second)
		img := filepath.Join(t.TempDir(), "img")
		c.checkpoint(img, "--tcp-established")
		if out, err := c.runc("restore", "-d", "--tcp-established", "--image-path", img, "--bundle", c.bundle, c.id); err != nil {
			t.Fatalf("runc restore: %v\n%s\n%s", err, out, logTail(filepath.Join(img, "restore.log")))
		}
		c.status("running")
		n := len(c.counts())
		c.waitCount(n + 3)
		c.consecutive()
		b, _ := os.ReadFile(got)
		lines := strings.Fields(string(b))
		if len(lines) < n+2 || lines[len(lines)-1] != strconv.Itoa(len(lines)) {
			t.Fatalf("the server got %d lines ending %q after the restore (the counter is at %d)", len(lines), lines[len(lines)-1], len(c.counts()))
		}
	})
}

// TestRuncWorkPath: with runc's --work-path apart from --image-path,
// the log and stats-dump / stats-restore go to the work path, as CRIU
// writes them (Podman reads stats-dump there and puts it in its
// checkpoint archives).
func TestRuncWorkPath(t *testing.T) {
	each(t, func(t *testing.T, cr tool) {
		c := newContainer(t, cr.path)
		c.start()
		dir := t.TempDir()
		img, work, rwork := filepath.Join(dir, "img"), filepath.Join(dir, "work"), filepath.Join(dir, "rwork")
		for _, d := range []string{img, work, rwork} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		c.checkpoint(img, "--work-path", work)
		if out, err := c.runc("restore", "-d", "--image-path", img, "--work-path", rwork, "--bundle", c.bundle, c.id); err != nil {
			t.Fatalf("runc restore: %v\n%s\n%s", err, out, logTail(filepath.Join(rwork, "restore.log")))
		}
		c.status("running")
		c.waitCount(len(c.counts()) + 2)
		c.consecutive()
		for _, f := range []string{filepath.Join(work, "stats-dump"), filepath.Join(work, "dump.log"), filepath.Join(rwork, "stats-restore"), filepath.Join(rwork, "restore.log")} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("%v", err)
			}
		}
		for _, f := range []string{"stats-dump", "stats-restore", "dump.log", "restore.log"} {
			if _, err := os.Stat(filepath.Join(img, f)); err == nil {
				t.Errorf("%s is in the image path, not the work path", f)
			}
		}
	})
}

// console is a runc --console-socket listener: it takes each pty
// master runc sends (SCM_RIGHTS) and reads what the container writes.
type console struct {
	path string
	ln   *net.UnixListener
	mu   sync.Mutex
	out  bytes.Buffer
	fds  []*os.File
}

func newConsole(t *testing.T) *console {
	t.Helper()
	c := &console{path: filepath.Join(t.TempDir(), "console.sock")}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: c.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	c.ln = ln
	go c.serve()
	t.Cleanup(func() {
		ln.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, f := range c.fds {
			f.Close()
		}
	})
	return c
}

func (c *console) serve() {
	for {
		conn, err := c.ln.AcceptUnix()
		if err != nil {
			return
		}
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		conn.Close()
		if err != nil {
			continue
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) == 0 {
			continue
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) == 0 {
			continue
		}
		m := os.NewFile(uintptr(fds[0]), "pty master")
		c.mu.Lock()
		c.fds = append(c.fds, m)
		c.out.WriteString("[master]\n")
		c.mu.Unlock()
		go func() {
			b := make([]byte, 4096)
			for {
				n, err := m.Read(b)
				c.mu.Lock()
				c.out.Write(b[:n])
				c.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
}

// after is what the container wrote on the console since the n-th
// master runc sent.
func (c *console) after(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := strings.SplitN(c.out.String(), "[master]\n", n+2)
	if len(parts) < n+2 {
		return ""
	}
	return parts[n+1]
}

// TestRuncTerminal: a container with a terminal (terminal: true, its
// console's master sent to runc's --console-socket): runc sends
// orphan_pts_master, the dump takes the console's slave whose master
// is outside the tree, the restore opens a new master on the
// container's new devpts at the same index (before the bind of
// /dev/console, which stays the console) and sends it back with the
// orphan-pts-master notification, which runc hands to the console
// socket of the restore; the counter's output arrives there. Twice.
func TestRuncTerminal(t *testing.T) {
	each(t, func(t *testing.T, cr tool) {
		con := newConsole(t)
		c := newContainer(t, cr.path, func(cfg map[string]any) {
			cfg["process"].(map[string]any)["terminal"] = true
		})
		c.mustRunc("run", "-d", "--console-socket", con.path, "--bundle", c.bundle, c.id)
		c.status("running")
		c.waitCount(3)
		for round := 1; round <= 2; round++ {
			img := filepath.Join(t.TempDir(), "img")
			c.checkpoint(img)
			if out, err := c.runc("restore", "-d", "--console-socket", con.path, "--image-path", img, "--bundle", c.bundle, c.id); err != nil {
				t.Fatalf("runc restore: %v\n%s\n%s", err, out, logTail(filepath.Join(img, "restore.log")))
			}
			c.status("running")
			at := c.counts()
			c.waitCount(len(at) + 3)
			// The counter writes nothing to its terminal: write to the
			// console from outside, as through /dev/console inside.
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/root/dev/console", c.pid), []byte(fmt.Sprintf("round %d\n", round)), 0); err != nil {
				t.Fatalf("write the container's /dev/console: %v", err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(con.after(round), fmt.Sprintf("round %d", round)) {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: the restored console's master got %q", round, con.after(round))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		c.consecutive()
		t.Logf("%s: %d counts, two checkpoints and restores of a terminal container", cr.name, len(c.counts()))
	})
}

// TestRuncCrossCRIU42: runc checkpoints with one criu and restores with
// the other, both ways (the images are CRIU's format), runc spec's
// default config.
func TestRuncCrossCRIU42(t *testing.T) {
	ts := tools(t)
	if len(ts) < 2 {
		t.Skip("CRIU 4.2 is not installed")
	}
	ours, ref := ts[0], ts[1]
	for _, dir := range []struct {
		name       string
		dump, rest tool
	}{{"dump-criu-4.2", ref, ours}, {"restore-criu-4.2", ours, ref}} {
		t.Run(dir.name, func(t *testing.T) {
			c := newContainer(t, dir.dump.path)
			c.start()
			img := filepath.Join(t.TempDir(), "img")
			c.checkpoint(img)
			c.criu = dir.rest.path
			c.restore(img)
			c.consecutive()
			t.Logf("checkpointed by %s, restored by %s: %d counts", dir.dump.name, dir.rest.name, len(c.counts()))
		})
	}
}

// TestRuncRefusedOptions: runc options this criu does not implement
// fail the checkpoint by the name of their RPC field, and the container
// runs on as it was (runc's own message says the container is still
// running).
func TestRuncRefusedOptions(t *testing.T) {
	tl := tools(t)[0]
	c := newContainer(t, tl.path)
	c.start()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--auto-dedup"}, "auto_dedup"},
		{[]string{"--page-server", "127.0.0.1:1"}, "ps (page server)"},
	} {
		img := filepath.Join(t.TempDir(), "img")
		out, err := c.runc(append(append([]string{"checkpoint", "--image-path", img}, tc.args...), c.id)...)
		log, _ := os.ReadFile(filepath.Join(img, "dump.log"))
		if err == nil || !bytes.Contains(log, []byte(tc.want)) {
			t.Errorf("runc checkpoint %v: %v\n%s\n%s", tc.args, err, out, log)
			continue
		}
		c.status("running")
		c.waitCount(len(c.counts()) + 2)
		if ents, _ := filepath.Glob(filepath.Join(img, "*.img")); len(ents) > 0 {
			t.Errorf("runc checkpoint %v: refused, but images were written: %v", tc.args, ents)
		}
		t.Logf("runc checkpoint %v: refused: %s", tc.args, strings.TrimSpace(string(log[bytes.LastIndex(log, []byte("Error")):])))
	}
	c.consecutive()
}
