package apps

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// lxcInittab replaces the busybox template's: rcS mounts fstab, the
// counter is respawned, a shell waits on the console (LXC's pty, the
// terminal criu is given with --external tty[] and --inherit-fd).
const lxcInittab = `::sysinit:/bin/mount -a
::respawn:/bin/sh /counter.sh
console::askfirst:/bin/sh
`

// lxcCounter counts in the container's rootfs (/tmp/count.log, "N
// SECRET" a line every 0.1 s) from the count kept in its tmpfs (/data),
// which also holds a secret written once.
const lxcCounter = `[ -f /data/secret ] || echo "s$$-$(date +%s)" > /data/secret
n=$(cat /data/n 2>/dev/null || echo 0)
while :; do n=$((n+1)); echo $n > /data/n; echo "$n $(cat /data/secret)" >> /tmp/count.log; sleep 0.1; done
`

// lxcCt is a container of LXC's busybox template in its own lxcpath,
// checkpointed by lxc-checkpoint with the criu a wrapper names.
type lxcCt struct {
	t                  *testing.T
	path, name, rootfs string
	bin                string   // the PATH dir holding the criu wrapper
	env                []string // lxc-checkpoint's environment
	argvLog            string   // what the wrapper logs: one argv a line
	// in is the command that runs LXC's tools in the test's own
	// namespaces (nsenter ... --), nil for the host's: LXC's command
	// socket is an abstract UNIX socket, of one network namespace.
	in []string
}

// command is the LXC tool name with args, run in c's namespaces.
func (c *lxcCt) command(name string, args ...string) *exec.Cmd {
	if len(c.in) == 0 {
		return exec.Command(name, args...)
	}
	return exec.Command(c.in[0], append(append(slices.Clone(c.in[1:]), name), args...)...)
}

// newLXC creates the container (lxc-create -t busybox, network empty,
// no ttys, a tmpfs at /data) and points LXC at criu, a wrapper first on
// PATH that logs its command line and runs criu: LXC finds criu on PATH
// (liblxc's on_path("criu")), so the host's is left alone.
func newLXC(t *testing.T, criu, name string) *lxcCt {
	t.Helper()
	return newLXCIn(t, criu, name, "lxc.net.0.type = empty\n", nil)
}

// newLXCIn is newLXC with the network configuration netConf (lxc.net.*
// lines), its LXC tools run through the command in (lxcCt.in).
func newLXCIn(t *testing.T, criu, name, netConf string, in []string) *lxcCt {
	t.Helper()
	path := t.TempDir()
	c := &lxcCt{t: t, path: path, name: name, rootfs: filepath.Join(path, name, "rootfs"), bin: filepath.Join(path, "bin"), argvLog: filepath.Join(path, "criu-argv.log"), in: in}
	if err := os.Mkdir(c.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// $CRIUGO_LXC_CRIU, when set, is the criu to run instead (useCriu).
	wrapper := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec ${CRIUGO_LXC_CRIU:-%s} \"$@\"\n", c.argvLog, criu)
	if err := os.WriteFile(filepath.Join(c.bin, "criu"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	c.env = append(os.Environ(), "PATH="+c.bin+":"+os.Getenv("PATH"))
	conf := filepath.Join(path, "create.conf")
	if err := os.WriteFile(conf, []byte(netConf), 0o644); err != nil {
		t.Fatal(err)
	}
	c.run("lxc-create", "-P", path, "-n", name, "-t", "busybox", "-f", conf)
	t.Cleanup(func() {
		c.command("lxc-stop", "-P", path, "-n", name, "-k").Run()
		c.command("lxc-destroy", "-P", path, "-n", name).Run()
		reapOrphans()
	})
	// After the template's lines, which set lxc.tty.max = 5.
	f, err := os.OpenFile(filepath.Join(path, name, "config"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "lxc.tty.max = 0\nlxc.mount.entry = tmpfs data tmpfs size=1m,create=dir 0 0\n")
	f.Close()
	for name, s := range map[string]string{"etc/inittab": lxcInittab, "counter.sh": lxcCounter} {
		if err := os.WriteFile(filepath.Join(c.rootfs, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// useCriu makes lxc-checkpoint run criu (a path), with env added to its
// environment, from now on.
func (c *lxcCt) useCriu(criu string, env ...string) {
	c.env = append(append(os.Environ(), "PATH="+c.bin+":"+os.Getenv("PATH"), "CRIUGO_LXC_CRIU="+criu), env...)
}

// run runs an LXC command, failing t if it fails.
func (c *lxcCt) run(name string, args ...string) {
	c.t.Helper()
	if out, err := c.try(name, args...); err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// try runs an LXC command with the wrapper on PATH and reaps the
// processes it orphaned (its monitors, their dead children). Its output
// goes to a file, not a pipe: the monitor lxc-checkpoint -r leaves holds
// its stdout open.
func (c *lxcCt) try(name string, args ...string) (string, error) {
	f, err := os.CreateTemp(c.path, "out")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := c.command(name, args...)
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	reapOrphans()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

// checkpoint runs lxc-checkpoint on the container with args.
func (c *lxcCt) checkpoint(args ...string) (string, error) {
	return c.try("lxc-checkpoint", append([]string{"-P", c.path, "-n", c.name}, args...)...)
}

// criuLog is the log criu wrote for a step, for failure messages.
func criuLog(dir string) string {
	var b strings.Builder
	for _, f := range []string{"dump.log", "pre-dump.log", "restore.log"} {
		if s, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			s = s[max(0, len(s)-4000):]
			fmt.Fprintf(&b, "--- %s (tail)\n%s\n", f, s)
		}
	}
	return b.String()
}

// initPid is the container's init as the host sees it (0: not running).
func (c *lxcCt) initPid() int {
	out, err := c.command("lxc-info", "-P", c.path, "-n", c.name, "-pH").Output()
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return pid
}

// state is lxc-info's state of the container.
func (c *lxcCt) state() string {
	out, _ := c.command("lxc-info", "-P", c.path, "-n", c.name, "-sH").Output()
	return strings.TrimSpace(string(out))
}

// counts are the values the counter wrote, in order, and its secret.
func (c *lxcCt) counts() ([]int, string) {
	b, _ := os.ReadFile(filepath.Join(c.rootfs, "tmp/count.log"))
	var ns []int
	secret := ""
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.Atoi(f[0])
		ns = append(ns, n)
		secret = f[1]
	}
	return ns, secret
}

// waitCount waits until the counter has written more than n.
func (c *lxcCt) waitCount(n int) {
	c.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ns, _ := c.counts(); len(ns) > 0 && ns[len(ns)-1] > n {
			return
		}
		if time.Now().After(deadline) {
			ns, _ := c.counts()
			c.t.Fatalf("the counter does not go past %d (%d values)", n, len(ns))
		}
	}
}

// checkRunning checks the restored container: running, its init the
// child of its LXC monitor (criu restored it as its sibling), its root
// the rootfs, its tmpfs secret the one written before, and its counter
// going on from where it was, no value lost nor repeated.
func (c *lxcCt) checkRunning(last int, secret string) {
	c.t.Helper()
	if s := c.state(); s != "RUNNING" {
		c.t.Fatalf("state %s after restore", s)
	}
	pid := c.initPid()
	c.waitCount(last + 5)
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		c.t.Fatal(err)
	}
	f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	cmdline, _ := os.ReadFile("/proc/" + f[1] + "/cmdline")
	if !strings.HasPrefix(string(cmdline), "[lxc monitor]") {
		c.t.Errorf("the restored init %d has parent %s (%q), not its lxc monitor", pid, f[1], cmdline)
	}
	var want, got unix.Stat_t
	if err := unix.Stat(c.rootfs, &want); err != nil {
		c.t.Fatal(err)
	}
	if err := unix.Stat(fmt.Sprintf("/proc/%d/root", pid), &got); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		c.t.Errorf("the restored init's root is not the rootfs %s (%v)", c.rootfs, err)
	}
	// Its executable is on the container's root mount, as it was (not
	// on the mount criu ran it from before the container's existed).
	if exe, root := exeMount(pid); exe != root {
		c.t.Errorf("the restored init's executable is on mount %d, not on the container's root mount %d", exe, root)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/data/secret", pid))
	if err != nil || strings.TrimSpace(string(b)) != secret {
		c.t.Errorf("tmpfs /data/secret %q (%v), want %q", b, err, secret)
	}
	ns, s := c.counts()
	for i, n := range ns {
		if n != i+1 {
			c.t.Fatalf("count %d at line %d: the counter did not go on from where it was", n, i+1)
		}
	}
	if s != secret {
		c.t.Errorf("the counter writes secret %q, want %q", s, secret)
	}
}

// cycle checkpoints the running container (lxc-checkpoint -s, its
// extra args) into dir and restores it (-r), checking it after.
func (c *lxcCt) cycle(dir string, extra ...string) {
	c.t.Helper()
	c.cycleRestoring(dir, nil, extra...)
}

// cycleWith is cycle with criu (and env added) restoring; its log says
// which criu restored (ours writes no CRIU "(00.000000)" or "Error ("
// prefixes, CRIU 4.2 writes no timestamp of the day).
func (c *lxcCt) cycleWith(dir, criu string, env ...string) {
	c.t.Helper()
	c.cycleRestoring(dir, func() { c.useCriu(criu, env...) })
	b, err := os.ReadFile(filepath.Join(dir, "restore.log"))
	ours := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d+ (INF|WRN|DBG)`).Match(b)
	if err != nil || ours != (criu == crtest.Criu(c.t)) {
		c.t.Errorf("%s was not restored by %s (%v):\n%s", dir, criu, err, b[:min(len(b), 500)])
	}
}

// cycleRestoring is cycle, calling before (if set) between the
// checkpoint and the restore.
func (c *lxcCt) cycleRestoring(dir string, before func(), extra ...string) {
	c.t.Helper()
	_, secret := c.counts()
	if out, err := c.checkpoint(append([]string{"-s", "-D", dir}, extra...)...); err != nil {
		c.t.Fatalf("lxc-checkpoint -s: %v\n%s\n%s", err, out, criuLog(dir))
	}
	if s := c.state(); s != "STOPPED" {
		c.t.Fatalf("state %s after lxc-checkpoint -s", s)
	}
	ns, _ := c.counts()
	last := ns[len(ns)-1]
	time.Sleep(200 * time.Millisecond) // stopped: the counter stays at last
	if ns, _ := c.counts(); ns[len(ns)-1] != last {
		c.t.Fatalf("the checkpointed container counts on (%d, then %d)", last, ns[len(ns)-1])
	}
	if before != nil {
		before()
	}
	if out, err := c.checkpoint("-r", "-D", dir); err != nil {
		c.t.Fatalf("lxc-checkpoint -r: %v\n%s\n%s", err, out, criuLog(dir))
	}
	c.checkRunning(last, secret)
}

// exeMount is the mount id of task pid's executable, and that of its
// root mount (the first of its mountinfo); -1 when unknown.
func exeMount(pid int) (exe, root int) {
	exe, root = -1, -2
	if fd, err := unix.Open(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
		unix.Close(fd)
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "mnt_id:"); ok {
				exe, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid)); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			root, _ = strconv.Atoi(f[0])
		}
	}
	return exe, root
}

// reapOrphans reaps the processes handed to the test (a subreaper):
// the LXC monitors lxc-start and lxc-checkpoint -r leave, once dead.
func reapOrphans() {
	for {
		var ws unix.WaitStatus
		if got, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil); err != nil || got <= 0 {
			return
		}
	}
}

// lxcTools skips t unless LXC, its busybox template and busybox are here.
func lxcTools(t *testing.T) {
	t.Helper()
	for _, p := range []string{"lxc-create", "lxc-start", "lxc-checkpoint", "lxc-info", "lxc-stop", "lxc-destroy", "busybox"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("needs LXC and busybox (Debian's lxc and busybox-static): %v", err)
		}
	}
	if _, err := os.Stat("/usr/share/lxc/templates/lxc-busybox"); err != nil {
		t.Skipf("needs LXC's busybox template: %v", err)
	}
}

// TestLXC: a container of LXC's busybox template (network empty, no
// ttys, a tmpfs), with a counter and a shell on its console, is
// checkpointed by lxc-checkpoint -s and restored by -r, twice in a row,
// then pre-dumped (-p), checkpointed after the pre-dump (-s
// --predump-dir) and restored, all with our criu: each time it counts on
// from where it was, in its rootfs, with its tmpfs data, its init the
// child of its LXC monitor. The command lines LXC passed have the
// options of testdata/lxc-criu-argv.txt (so the reference stays LXC's).
// Then CRIU 4.2 on the same kind of container: it checkpoints and
// restores it with mntns-compat-mode (a config file read at restore
// only: its dump refuses the option); our criu restores its images and
// it restores ours; its pre-dump aborts here for want of soft-dirty
// (logged), the container running on.
func TestLXC(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	lxcTools(t)
	c := newLXC(t, crtest.Criu(t), fmt.Sprintf("criugo%d", os.Getpid()))
	c.run("lxc-start", "-P", c.path, "-n", c.name, "-d")
	c.waitCount(5)
	ckpt := t.TempDir()
	c.cycle(filepath.Join(ckpt, "1"))
	c.cycle(filepath.Join(ckpt, "2"))
	pre := filepath.Join(ckpt, "3", "pre")
	if out, err := c.checkpoint("-p", "-D", pre); err != nil {
		t.Fatalf("lxc-checkpoint -p: %v\n%s\n%s", err, out, criuLog(pre))
	}
	if s := c.state(); s != "RUNNING" {
		t.Fatalf("state %s after lxc-checkpoint -p", s)
	}
	ns, _ := c.counts()
	c.waitCount(ns[len(ns)-1] + 3)
	final := filepath.Join(ckpt, "3", "final")
	c.cycle(final, "--predump-dir", "../pre")
	if l, err := os.Readlink(filepath.Join(final, "parent")); err != nil || l != "../pre" {
		t.Errorf("the dump after the pre-dump names no parent: %q %v", l, err)
	}
	checkLXCArgv(t, c.argvLog)

	if _, err := os.Stat(crtest.CRIU42()); err != nil {
		t.Logf("no CRIU 4.2 to compare with: %v", err)
		return
	}
	t.Run("criu-4.2", func(t *testing.T) {
		ours, c42 := crtest.Criu(t), crtest.CRIU42()
		c := newLXC(t, c42, fmt.Sprintf("criu42%d", os.Getpid()))
		c.run("lxc-start", "-P", c.path, "-n", c.name, "-d")
		c.waitCount(5)
		conf := filepath.Join(c.path, "criu42.conf")
		if err := os.WriteFile(conf, []byte("mntns-compat-mode\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		compat := "CRIU_CONFIG_FILE=" + conf
		dir := filepath.Join(t.TempDir(), "1")
		out, err := c.checkpoint("-s", "-D", dir)
		t.Logf("CRIU 4.2, lxc-checkpoint -s: %v %s", err, out)
		if err == nil {
			c.useCriu(c42, compat)
			out, err = c.checkpoint("-r", "-D", dir)
			t.Logf("CRIU 4.2 (mntns-compat-mode), lxc-checkpoint -r: %v %s; state %s", err, out, c.state())
		}
		if c.state() != "RUNNING" {
			t.Fatalf("CRIU 4.2 did not checkpoint and restore the container: state %s", c.state())
		}
		// The images both ways: CRIU 4.2's restored by ours, ours by
		// CRIU 4.2 (with mntns-compat-mode at its restore).
		ckpt := t.TempDir()
		c.useCriu(c42)
		c.cycleWith(filepath.Join(ckpt, "42-ours"), ours)
		c.useCriu(ours)
		c.cycleWith(filepath.Join(ckpt, "ours-42"), c42, compat)
		// And CRIU 4.2 again on a container our restore made.
		c.useCriu(ours)
		c.cycleWith(filepath.Join(ckpt, "ours-ours"), ours)
		c.useCriu(c42)
		c.cycleWith(filepath.Join(ckpt, "42-42"), c42, compat)

		c.useCriu(c42)
		pre := filepath.Join(t.TempDir(), "pre")
		out, err = c.checkpoint("-p", "-D", pre)
		t.Logf("CRIU 4.2, lxc-checkpoint -p: %v %s; state %s", err, out, c.state())
		if b, err := os.ReadFile(filepath.Join(pre, "pre-dump.log")); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "Error") {
					t.Logf("CRIU 4.2 pre-dump.log: %s", l)
				}
			}
		}
		if s := c.state(); s != "RUNNING" {
			t.Errorf("state %s after CRIU 4.2's failed pre-dump", s)
		}
	})
}

// checkLXCArgv checks that the command lines LXC gave criu in TestLXC
// (one a line) have, command by command, the options of the reference
// testdata/lxc-criu-argv.txt (values differ: pids, dirs, devices, the
// cgroup hierarchies).
func checkLXCArgv(t *testing.T, log string) {
	t.Helper()
	// The set of options: how many --cgroup-root depends on the host's
	// hierarchies, -v4 on lxc-checkpoint -v.
	options := func(line string) string {
		var o []string
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "-") && f != "-v4" && !slices.Contains(o, f) {
				o = append(o, f)
			}
		}
		slices.Sort(o)
		return strings.Join(o, " ")
	}
	want := map[string]string{}
	f, err := os.Open(filepath.Join("..", "criu", "testdata", "lxc-criu-argv.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		cmd := strings.Fields(l)[0]
		if cmd == "dump" && strings.Contains(l, "--prev-images-dir") {
			cmd = "dump --prev-images-dir"
		}
		want[cmd] = options(l)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		cmd := strings.Fields(l)[0]
		if cmd == "dump" && strings.Contains(l, "--prev-images-dir") {
			cmd = "dump --prev-images-dir"
		}
		if got := options(l); got != want[cmd] {
			t.Errorf("LXC's %s options:\n%s\nthe reference's:\n%s", cmd, got, want[cmd])
		}
		seen[cmd] = true
	}
	if len(seen) != len(want) {
		t.Errorf("LXC ran %v, the reference has %d commands", seen, len(want))
	}
}
