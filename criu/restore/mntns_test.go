package restore_test

import (
	"context"
	"fmt"
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

// startRootContainer starts the container of TestRestoreRootContainer
// in a rootfs under a temporary directory, with extra run in it before
// the counter; it returns the rootfs and the counter's pid.
func startRootContainer(t *testing.T, extra string) (string, int) {
	t.Helper()
	return startRootContainerIn(t, extra, "-m")
}

// startRootContainerIn is startRootContainer with unshare(1)'s
// namespace flags ns; with a pid namespace (-p --fork) the container's
// root is unshare's child, whose pid it returns.
func startRootContainerIn(t *testing.T, extra string, ns ...string) (string, int) {
	t.Helper()
	return startContainer(t, extra, false, ns...)
}

// startContainer is startRootContainerIn; with outside, the container's
// script opens, before its pivot_root, a file of the host (the
// rootfs's sibling rootfs.outside) as its fd 8.
func startContainer(t *testing.T, extra string, outside bool, ns ...string) (string, int) {
	t.Helper()
	setup(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1)")
	}
	r := filepath.Join(t.TempDir(), "rootfs")
	if outside {
		os.WriteFile(r+".outside", []byte("host\n"), 0o644)
	}
	cg := "criu-mntns-test-" + strconv.Itoa(os.Getpid())
	if err := os.Mkdir("/sys/fs/cgroup/unified/"+cg, 0o755); err != nil {
		t.Skipf("needs a cgroup2 hierarchy at /sys/fs/cgroup/unified: %v", err)
	}
	t.Cleanup(func() { os.Remove("/sys/fs/cgroup/unified/" + cg) })
	for _, d := range []string{"usr", "proc", "tmp", "work", "data", "dev", "old", "ro", "cg", "cgw"} {
		if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"bin", "lib", "lib64"} {
		os.Symlink("usr/"+l, filepath.Join(r, l))
	}
	os.WriteFile(filepath.Join(r, "dev/null"), nil, 0o644)
	os.Mkdir(filepath.Join(r, "dev/pts"), 0o755)
	os.Symlink("pts/ptmx", filepath.Join(r, "dev/ptmx"))
	os.WriteFile(filepath.Join(r, "data/file"), []byte("hello file\n"), 0o644)
	script := `set -e; R=` + r + `
mount --bind $R $R
mount --bind /usr $R/usr; mount -o remount,bind,ro $R/usr
mount --bind /dev/null $R/dev/null
if [ -e $R.outside ]; then exec 8<$R.outside; fi
cd $R; pivot_root . old
mount -t proc proc /proc; umount -l /old
mount -t tmpfs -o size=1m,mode=755 ctmp /tmp
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
mount -t tmpfs -o size=64k rotmp /ro; echo rodata > /ro/f; mount -o remount,ro /ro
mount -t cgroup2 cgroup2 /cgw; mount --bind /cgw/` + cg + ` /cg; umount /cgw
echo tmpdata > /tmp/f
cd /work
exec 3</data/file </dev/null >/dev/null 2>&1
` + extra + `
exec sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done'`
	cmd := exec.Command("unshare", append(ns, "--propagation", "private", "sh", "-c", script)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crtest.Kill(cmd.Process.Pid) })
	if !slices.Contains(ns, "-p") {
		return r, cmd.Process.Pid
	}
	for i := 0; i < 500; i++ {
		b, _ := os.ReadFile(procfs.Path(cmd.Process.Pid, fmt.Sprintf("task/%d/children", cmd.Process.Pid)))
		if f := strings.Fields(string(b)); len(f) == 1 {
			child, _ := strconv.Atoi(f[0])
			t.Cleanup(func() { crtest.Kill(child) })
			return r, child
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("unshare started no container")
	return "", 0
}

// A pivot_root'ed container with pid, net, uts and ipc namespaces of
// its own (runc's default), its root pid 1 and a child of it: dumped
// and restored with --root twice in a row, it counts on each time, in a
// new pid namespace with the same pids inside, its root the rootfs, the
// tmpfs file back.
func TestRestoreRootContainerPidns(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	r, pid := startRootContainerIn(t, "sleep 1000 & echo $! > /tmp/bg", "-m", "-p", "--fork", "-n", "-u", "-i")
	waitCount(t, pid, 3)
	bg := nsPids(t, pid)
	if len(bg) != 2 || bg[0] != 1 {
		t.Fatalf("the container's tasks (pids inside) %v, want 1 and its sleep", bg)
	}
	for round := 1; round <= 2; round++ {
		dir := t.TempDir()
		dumpCmd(t, pid, dir, "--shell-job", "--external", "mnt[/usr]:usr", "--external", "mnt[/dev/null]:null")
		reapChildren()
		if crtest.Alive(pid) {
			t.Fatalf("round %d: the dumped container %d runs on", round, pid)
		}
		pid = restoreRoot(t, dir, r, "--shell-job")
		if got := nsPids(t, pid); !slices.Equal(got, bg) {
			t.Errorf("round %d: pids inside %v, want %v", round, got, bg)
		}
		if own, _ := os.Readlink(procfs.Path(pid, "ns/pid")); own == mustReadlink(t, "/proc/self/ns/pid") {
			t.Errorf("round %d: the restored container is in our pid namespace", round)
		}
		sameFile(t, "root", procfs.Path(pid, "root"), r)
		if b, err := os.ReadFile(procfs.Path(pid, "root") + "/tmp/f"); err != nil || string(b) != "tmpdata\n" {
			t.Errorf("round %d: tmpfs file: %q %v", round, b, err)
		}
		n := count(pid)
		waitCount(t, pid, n+1)
	}
}

// restoreRoot restores the images in dir with --root r (and CRIU's
// --ext-mount-map for the container's two external mounts) and extra,
// detached, and returns the restored root's pid, killed when the test
// ends.
func restoreRoot(t *testing.T, dir, r string, extra ...string) int {
	t.Helper()
	pidfile := filepath.Join(dir, "restored.pid")
	args := append([]string{"restore", "-D", dir, "-d", "-v4", "-o", filepath.Join(dir, "restore.log"), "--pidfile", pidfile,
		"--root", r, "--ext-mount-map", "usr:/usr", "--ext-mount-map", "null:/dev/null"}, extra...)
	if out, err := crtest.Run(context.Background(), crtest.Criu(t), args...); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
		t.Fatalf("criu %v: %v\n%s\n%s", args, err, out, log)
	}
	b, _ := os.ReadFile(pidfile)
	pid, _ := strconv.Atoi(string(b))
	t.Cleanup(func() { crtest.Kill(pid); crtest.Reap(pid) })
	return pid
}

// count is the container's counter, in /tmp/count of its root pid; 0
// while the task's root is still criu's (before its pivot_root, its
// /tmp is the host's, where another program may keep a /tmp/count: a
// dump then caught the container half made).
func count(pid int) int {
	root := procfs.Path(pid, "root")
	if a, err := os.Stat(root); err != nil {
		return 0
	} else if b, err := os.Stat("/"); err != nil || os.SameFile(a, b) {
		return 0
	}
	b, _ := os.ReadFile(root + "/tmp/count")
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// waitCount waits for the counter of pid to reach n.
func waitCount(t *testing.T, pid, n int) {
	t.Helper()
	for i := 0; count(pid) < n; i++ {
		if i > 300 {
			t.Fatalf("the counter of %d stays at %d, want %d", pid, count(pid), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nsPids are the pids, in its own pid namespace, of task pid and its
// children but the counter's sleep 0.05 (the last NSpid of each).
func nsPids(t *testing.T, pid int) []int {
	t.Helper()
	inner := func(p int) (int, string) {
		b, _ := os.ReadFile(procfs.Path(p, "status"))
		var ns int
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "NSpid:" {
				ns, _ = strconv.Atoi(f[len(f)-1])
			}
		}
		c, _ := os.ReadFile(procfs.Path(p, "cmdline"))
		return ns, string(c)
	}
	root, _ := inner(pid)
	out := []int{root}
	b, _ := os.ReadFile(procfs.Path(pid, fmt.Sprintf("task/%d/children", pid)))
	for _, f := range strings.Fields(string(b)) {
		k, _ := strconv.Atoi(f)
		if ns, cmd := inner(k); strings.Contains(cmd, "1000") {
			out = append(out, ns)
		}
	}
	return out
}

func mustReadlink(t *testing.T, p string) string {
	t.Helper()
	l, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sameFile wants a and b the same inode.
func sameFile(t *testing.T, what, a, b string) {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		t.Fatal(err)
	}
	if sa.Dev != sb.Dev || sa.Ino != sb.Ino {
		t.Errorf("%s: %s is not %s", what, a, b)
	}
}

// A counter in a container: a mount namespace pivot_root'ed into a
// rootfs in a temporary directory, with the host's /usr bound read-only
// and /dev/null bound (both external), a proc, a tmpfs /tmp holding a
// file, a file of the rootfs kept open, its cwd inside. Dumped with the
// CLI, it is restored with --root: it counts on from where it was, its
// root and cwd are the rootfs's, the tmpfs file is back, the open file
// is the rootfs's, a fifo of the tmpfs is open with its data. /usr's
// path is given relative to criu's root.
func TestRestoreRootContainer(t *testing.T) {
	r, pid := startRootContainer(t, "mkfifo /tmp/ff; exec 5<>/tmp/ff; echo fifodata >&5")
	waitCount(t, pid, 3)
	dir := t.TempDir()
	dumpCmd(t, pid, dir, "--external", "mnt[/usr]:usr", "--external", "mnt[/dev/null]:null")
	reapChildren()

	// Without --root, the images are refused by name.
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", dir)
	if err == nil || !strings.Contains(res, "restore it with --root DIR") {
		t.Fatalf("restore without --root: %v %q", err, res)
	}
	// Without the external mount's path, too.
	res, err = crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", dir, "--root", r, "--ext-mount-map", "usr:/usr")
	if err == nil || !strings.Contains(res, "external mount /dev/null (key null)") {
		t.Fatalf("restore without the path of null: %v %q", err, res)
	}

	// usr's path given relative ("usr"): of criu's root directory, as
	// CRIU 4.2 takes it (upstream zdtm's mnt_root_ext), not of criu's
	// working directory (this package's, which has no usr).
	pidfile := filepath.Join(dir, "restored.pid")
	args := []string{"restore", "-D", dir, "-d", "-v4", "-o", filepath.Join(dir, "restore.log"), "--pidfile", pidfile,
		"--root", r, "--ext-mount-map", "usr:usr", "--external", "mnt[null]:/dev/null"}
	if out, err := crtest.Run(context.Background(), crtest.Criu(t), args...); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
		t.Fatalf("criu %v: %v\n%s\n%s", args, err, out, log)
	}
	b, _ := os.ReadFile(pidfile)
	rpid, _ := strconv.Atoi(string(b))
	defer crtest.Reap(rpid)
	defer crtest.Kill(rpid)

	same := func(what, a, b string) { t.Helper(); sameFile(t, what, a, b) }
	same("root", procfs.Path(rpid, "root"), r)
	same("cwd", procfs.Path(rpid, "cwd"), filepath.Join(r, "work"))
	same("fd 3", procfs.Path(rpid, "fd/3"), filepath.Join(r, "data/file"))
	if l, _ := os.Readlink(procfs.Path(rpid, "cwd")); l != "/work" {
		t.Errorf("cwd %q, want /work", l)
	}
	if b, err := os.ReadFile(procfs.Path(rpid, "fd/3")); err != nil || string(b) != "hello file\n" {
		t.Errorf("fd 3: %q %v", b, err)
	}
	if b, err := os.ReadFile(procfs.Path(rpid, "root") + "/tmp/f"); err != nil || string(b) != "tmpdata\n" {
		t.Errorf("tmpfs file: %q %v", b, err)
	}
	// The fifo on the tmpfs, with its data.
	same("fifo", procfs.Path(rpid, "fd/5"), procfs.Path(rpid, "root")+"/tmp/ff")
	if fd, err := unix.Open(procfs.Path(rpid, "fd/5"), unix.O_RDONLY|unix.O_NONBLOCK, 0); err != nil {
		t.Errorf("fd 5: %v", err)
	} else {
		b := make([]byte, 64)
		n, err := unix.Read(fd, b)
		unix.Close(fd)
		if err != nil || string(b[:max(n, 0)]) != "fifodata\n" {
			t.Errorf("fifo: %q %v", b[:max(n, 0)], err)
		}
	}
	ms, err := procfs.ReadMountInfo(rpid)
	if err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, m := range ms {
		points = append(points, m.Point)
		if m.Point == "/usr" && !strings.Contains(strings.Join(m.Options, ","), "ro") {
			t.Errorf("/usr is not read-only: %v", m.Options)
		}
	}
	if got := strings.Join(points, " "); got != "/ /usr /dev/null /proc /tmp /dev/pts /ro /cg" {
		t.Errorf("mounts %s, want / /usr /dev/null /proc /tmp /dev/pts /ro /cg", got)
	}
	for _, m := range ms {
		switch m.Point {
		case "/ro":
			if !strings.Contains(strings.Join(m.SuperOptions, ","), "ro") {
				t.Errorf("/ro: the tmpfs is not read-only: %v", m.SuperOptions)
			}
		case "/cg":
			if m.FSType != "cgroup2" || !strings.HasPrefix(m.Root, "/criu-mntns-test-") {
				t.Errorf("/cg: %s root %s, want a cgroup2 directory", m.FSType, m.Root)
			}
		}
	}
	if b, err := os.ReadFile(procfs.Path(rpid, "root") + "/ro/f"); err != nil || string(b) != "rodata\n" {
		t.Errorf("read-only tmpfs file: %q %v", b, err)
	}
	n := count(rpid)
	if n < 3 {
		t.Fatalf("restored count %d, want at least 3", n)
	}
	for i := 0; count(rpid) <= n; i++ {
		if i > 200 {
			t.Fatalf("the restored counter stays at %d", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reapChildren reaps our dumped tasks (the container's shell and its sleep,
// our zombies): their pids must be free for the restore.
func reapChildren() {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		var ws unix.WaitStatus
		if got, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err == unix.ECHILD {
			return
		} else if got <= 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// startCT starts the container of TestRestoreRootContainer with pid,
// net, uts and ipc namespaces of its own too (runc's default), extra
// run in it before the counter, and waits for the counter.
func startCT(t *testing.T, extra string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	r, pid := startRootContainerIn(t, extra, "-m", "-p", "--fork", "-n", "-u", "-i")
	waitCount(t, pid, 2)
	return r, pid
}

// dumpRestoreCT dumps the container of startCT whose root is pid and
// restores it with --root r, and returns the restored root's pid.
func dumpRestoreCT(t *testing.T, pid int, r string) int {
	t.Helper()
	dir := t.TempDir()
	dumpCmd(t, pid, dir, "--shell-job", "--external", "mnt[/usr]:usr", "--external", "mnt[/dev/null]:null")
	reapChildren()
	return restoreRoot(t, dir, r, "--shell-job")
}

// A container with files deleted while open, one of its rootfs and one
// of its tmpfs: their ghost copies are made on the container's mounts
// at restore and removed once open; the restored fds are deleted files
// of those mounts with their data, and neither mount keeps a copy.
func TestRestoreRootContainerGhost(t *testing.T) {
	r, pid := startCT(t, `echo gone > /data/gone; exec 4</data/gone; rm /data/gone
echo tmpgone > /tmp/gone; exec 6</tmp/gone; read x <&6; rm /tmp/gone`)
	for i := 0; ; i++ {
		if l, _ := os.Readlink(procfs.Path(pid, "fd/6")); strings.HasSuffix(l, "(deleted)") {
			break
		}
		if i > 200 {
			t.Fatal("the container did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rpid := dumpRestoreCT(t, pid, r)
	for _, c := range []struct {
		fd, link, data, mount string
		pos                   int64
	}{{"4", "/data/gone (deleted)", "gone\n", "/", 0}, {"6", "/tmp/gone (deleted)", "tmpgone\n", "/tmp", 8}} {
		fd := procfs.Path(rpid, "fd/"+c.fd)
		if l, err := os.Readlink(fd); err != nil || l != c.link {
			t.Errorf("fd %s: %q %v, want %q", c.fd, l, err, c.link)
		}
		if b, err := os.ReadFile(fd); err != nil || string(b) != c.data {
			t.Errorf("fd %s: %q %v, want %q", c.fd, b, err, c.data)
		}
		var sf, sm unix.Stat_t
		if err := unix.Stat(fd, &sf); err != nil {
			t.Fatal(err)
		}
		if err := unix.Stat(procfs.Path(rpid, "root")+c.mount, &sm); err != nil {
			t.Fatal(err)
		}
		if sf.Dev != sm.Dev || sf.Nlink != 0 {
			t.Errorf("fd %s: device %d links %d, want a deleted file of the container's %s (device %d)", c.fd, sf.Dev, sf.Nlink, c.mount, sm.Dev)
		}
		b, _ := os.ReadFile(procfs.Path(rpid, "fdinfo/"+c.fd))
		if !strings.HasPrefix(string(b), fmt.Sprintf("pos:\t%d\n", c.pos)) {
			t.Errorf("fd %s: fdinfo %q, want pos %d", c.fd, b, c.pos)
		}
	}
	for _, p := range []string{filepath.Join(r, "data"), procfs.Path(rpid, "root") + "/tmp"} {
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if strings.Contains(e.Name(), "gone") {
				t.Errorf("%s left in %s", e.Name(), p)
			}
		}
	}
	n := count(rpid)
	waitCount(t, rpid, n+1)
}

// sockProg, run in a container, binds a unix socket to /data/sk and
// one to /tmp/sk (on the container's tmpfs) and listens, holds a
// connection it accepted (its peer sent "ping") and one still in the
// accept queue; once /data/go exists (after the restore) it reads the
// ping, accepts the pending one and reads what its peer sends then,
// connects anew to both paths, and writes what it got to /data/result.
const sockProg = `python3 -c "
import socket,time,os
s=socket.socket(socket.AF_UNIX); s.bind('/data/sk'); s.listen(4)
t=socket.socket(socket.AF_UNIX); t.bind('/tmp/sk'); t.listen(1)
c=socket.socket(socket.AF_UNIX); c.connect('/data/sk')
a,_=s.accept()
p=socket.socket(socket.AF_UNIX); p.connect('/data/sk')
c.send(b'ping')
open('/data/ready','w').write('1')
while not os.path.exists('/data/go'): time.sleep(0.02)
r=[a.recv(4).decode(), s.getsockname(), a.getsockname()]
b,_=s.accept(); p.send(b'pend'); r.append(b.recv(4).decode())
n=socket.socket(socket.AF_UNIX); n.connect('/data/sk'); d,_=s.accept(); n.send(b'new!'); r.append(d.recv(4).decode())
n=socket.socket(socket.AF_UNIX); n.connect('/tmp/sk'); d,_=t.accept(); n.send(b'tmp!'); r.append(d.recv(4).decode())
open('/data/result','w').write(' '.join(r))
time.sleep(1000)" &
while [ ! -s /data/ready ]; do sleep 0.01; done`

// A container with a unix socket bound to a path of its rootfs,
// listening, a connection accepted and one pending, and one listening
// on its tmpfs (whose archive leaves the socket file out): restored
// with --root, the sockets are bound at the container's paths (not the
// host's), listen, the connections carry their data, and new
// connections by the paths reach them.
func TestRestoreRootContainerNamedSocket(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	r, pid := startCT(t, sockProg)
	rpid := dumpRestoreCT(t, pid, r)
	if st, err := os.Stat(filepath.Join(r, "data/sk")); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("the rootfs's /data/sk: %v %v, want the socket", st, err)
	}
	if _, err := os.Stat("/data/sk"); err == nil {
		t.Error("a socket was bound at the host's /data/sk")
	}
	if err := os.WriteFile(filepath.Join(r, "data/go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var got string
	for i := 0; ; i++ {
		b, _ := os.ReadFile(filepath.Join(r, "data/result"))
		if got = string(b); got != "" {
			break
		}
		if i > 300 {
			t.Fatal("the restored program wrote no result")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if want := "ping /data/sk /data/sk pend new! tmp!"; got != want {
		t.Errorf("the restored sockets gave %q, want %q", got, want)
	}
	n := count(rpid)
	waitCount(t, rpid, n+1)
}

// A container with a pty of its own devpts instance open, both ends,
// bytes its slave wrote waiting in the master: restored with --root,
// the pty is made on a new devpts instance of the container (not the
// host's) with the same index, and both ends work: the bytes are read
// from the master, what the master writes reaches the slave.
func TestRestoreRootContainerPty(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	r, pid := startCT(t, `python3 -c "
import os,time
m,s=os.openpty()
os.write(s, b'out')
open('/data/pty','w').write('%s %d %d' % (os.ttyname(s), m, s))
while not os.path.exists('/data/go'): time.sleep(0.02)
r=[os.ttyname(s), os.read(m,3).decode()]
os.write(m, b'x\n'); r.append(os.read(s,10).decode().strip())
open('/data/result','w').write(' '.join(r))
time.sleep(1000)" &
while [ ! -s /data/pty ]; do sleep 0.01; done`)
	b, _ := os.ReadFile(filepath.Join(r, "data/pty"))
	var name string
	var m, sl int
	if _, err := fmt.Sscanf(string(b), "%s %d %d", &name, &m, &sl); err != nil {
		t.Fatalf("the container's pty: %q: %v", b, err)
	}
	rpid := dumpRestoreCT(t, pid, r)
	// The python3 task holds the pty: the root's child.
	kids, _ := os.ReadFile(procfs.Path(rpid, fmt.Sprintf("task/%d/children", rpid)))
	py := 0
	for _, f := range strings.Fields(string(kids)) {
		k, _ := strconv.Atoi(f)
		if c, _ := os.ReadFile(procfs.Path(k, "cmdline")); strings.HasPrefix(string(c), "python3") {
			py = k
		}
	}
	if py == 0 {
		t.Fatal("no python3 in the restored container")
	}
	var pts, host, slave unix.Stat_t
	if err := unix.Stat(procfs.Path(rpid, "root")+"/dev/pts", &pts); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/dev/pts", &host); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(procfs.Path(py, fmt.Sprintf("fd/%d", sl)), &slave); err != nil {
		t.Fatal(err)
	}
	if slave.Dev != pts.Dev || pts.Dev == host.Dev {
		t.Errorf("the slave is on device %d, want the container's devpts %d (the host's is %d)", slave.Dev, pts.Dev, host.Dev)
	}
	if l, _ := os.Readlink(procfs.Path(py, fmt.Sprintf("fd/%d", sl))); l != name {
		t.Errorf("the slave is %s, want %s", l, name)
	}
	if err := os.WriteFile(filepath.Join(r, "data/go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var got string
	for i := 0; ; i++ {
		b, _ := os.ReadFile(filepath.Join(r, "data/result"))
		if got = string(b); got != "" {
			break
		}
		if i > 300 {
			t.Fatal("the restored program wrote no result")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if want := name + " out x"; got != want {
		t.Errorf("the restored pty gave %q, want %q", got, want)
	}
}

// A container with a session whose controlling terminal is a pty of
// the container's devpts (pty.fork: the child leads it, the parent
// holds the master): restored with --root, the child has that terminal
// again, as its controlling terminal, with its group in the foreground.
func TestRestoreRootContainerCtty(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	r, pid := startCT(t, `python3 -c "
import os,pty,time
p,m=pty.fork()
if p==0:
    time.sleep(1000)
open('/data/pty','w').write(str(p))
time.sleep(1000)" &
while [ ! -s /data/pty ]; do sleep 0.01; done`)
	b, _ := os.ReadFile(filepath.Join(r, "data/pty"))
	inner, _ := strconv.Atoi(string(b))
	rpid := dumpRestoreCT(t, pid, r)
	// The child of python3 whose pid inside is inner.
	var child int
	ps, _ := os.ReadDir("/proc")
	for _, p := range ps {
		k, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		st, _ := os.ReadFile(procfs.Path(k, "status"))
		if own, _ := os.Readlink(procfs.Path(k, "ns/pid")); own != mustReadlink(t, procfs.Path(rpid, "ns/pid")) {
			continue
		}
		for _, l := range strings.Split(string(st), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "NSpid:" && f[len(f)-1] == strconv.Itoa(inner) {
				child = k
			}
		}
	}
	if child == 0 {
		t.Fatalf("no task %d in the restored container", inner)
	}
	stat, err := procfs.ReadStat(child)
	if err != nil {
		t.Fatal(err)
	}
	var slave unix.Stat_t
	if err := unix.Stat(procfs.Path(child, "fd/0"), &slave); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.Readlink(procfs.Path(child, "fd/0")); l != "/dev/pts/0" {
		t.Errorf("the session leader's fd 0 is %s, want /dev/pts/0", l)
	}
	if uint64(stat.TtyNr) != slave.Rdev {
		t.Errorf("the session leader's controlling terminal is %#x, want its /dev/pts/0 (%#x)", stat.TtyNr, slave.Rdev)
	}
	if stat.Tpgid != stat.Pgrp {
		t.Errorf("foreground group %d, want the leader's group %d", stat.Tpgid, stat.Pgrp)
	}
}

// A container with a file deleted while open on its tmpfs /ro, made
// read-only afterwards by the mount's own flag: restore makes its ghost
// copy with the mount writable for the while (as CRIU 4.2), the fd is a
// deleted file of /ro with its data, /ro is read-only again and keeps no
// copy, and the container runs on.
func TestRestoreRootContainerReadOnlyGhost(t *testing.T) {
	r, pid := startRootContainer(t, "mount -o remount,rw /ro; echo g > /ro/g; exec 9</ro/g; rm /ro/g; mount -o remount,bind,ro /ro")
	waitCount(t, pid, 2)
	rpid := dumpRestoreCT(t, pid, r)
	fd := procfs.Path(rpid, "fd/9")
	if l, err := os.Readlink(fd); err != nil || l != "/ro/g (deleted)" {
		t.Errorf("fd 9: %q %v", l, err)
	}
	if b, err := os.ReadFile(fd); err != nil || string(b) != "g\n" {
		t.Errorf("fd 9 reads %q %v", b, err)
	}
	ro := procfs.Path(rpid, "root") + "/ro"
	var sfs unix.Statfs_t
	if err := unix.Statfs(ro, &sfs); err != nil || sfs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("/ro is not read-only after restore (%#x, %v)", sfs.Flags, err)
	}
	if ents, _ := os.ReadDir(ro); len(ents) != 1 || ents[0].Name() != "f" {
		t.Errorf("/ro holds %v, want its f only", ents)
	}
	n := count(rpid)
	waitCount(t, rpid, n+1)
}

// A container whose root task runs an executable since deleted: the
// dump refuses it by name (the restore starts from it before the
// container's mounts exist), and the container runs on.
func TestDumpRootContainerDeletedExeRefused(t *testing.T) {
	_, pid := startRootContainer(t, `cp /usr/bin/dash /data/sh
exec /data/sh -c 'rm /data/sh; i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done'`)
	waitCount(t, pid, 2)
	refusedDump(t, pid, "the executable /data/sh (deleted) of the pivot_root'ed container's root task")
}

// A container restore that fails once the container's mounts, ghost
// file and tasks exist (the path of its bound socket is taken by a
// regular file) leaves nothing behind: no task in the rootfs, no ghost
// copy in it.
func TestRestoreRootContainerFailed(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	r, pid := startCT(t, "echo gone > /data/gone; exec 4</data/gone; rm /data/gone\n"+sockProg)
	dir := t.TempDir()
	dumpCmd(t, pid, dir, "--shell-job", "--external", "mnt[/usr]:usr", "--external", "mnt[/dev/null]:null")
	reapChildren()
	sk := filepath.Join(r, "data/sk")
	if err := os.Remove(sk); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sk, []byte("not a socket"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", dir, "-d", "--shell-job", "--root", r,
		"--ext-mount-map", "usr:/usr", "--ext-mount-map", "null:/dev/null")
	if err == nil || !strings.Contains(res, "/data/sk") {
		t.Fatalf("restore: %v %q, want a failure naming /data/sk", err, res)
	}
	ents, _ := os.ReadDir(filepath.Join(r, "data"))
	for _, e := range ents {
		if strings.Contains(e.Name(), "gone") {
			t.Errorf("the failed restore left %s in the rootfs", e.Name())
		}
	}
	var rs unix.Stat_t
	if err := unix.Stat(r, &rs); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		var left []string
		ps, _ := os.ReadDir("/proc")
		for _, p := range ps {
			var st unix.Stat_t
			if _, err := strconv.Atoi(p.Name()); err == nil && unix.Stat("/proc/"+p.Name()+"/root", &st) == nil && st.Dev == rs.Dev && st.Ino == rs.Ino {
				left = append(left, p.Name())
			}
		}
		if len(left) == 0 {
			break
		}
		if i > 100 {
			t.Fatalf("tasks left in the rootfs: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A container task holding a file of the host, opened before the
// pivot_root (on a mount its namespace no longer has): the dump refuses
// it by name (restore opens files inside the container), and the
// container runs on.
func TestDumpRootContainerOutsideFileRefused(t *testing.T) {
	_, pid := startContainer(t, "", true, "-m")
	waitCount(t, pid, 2)
	if l, _ := os.Readlink(procfs.Path(pid, "fd/8")); !strings.HasSuffix(l, "rootfs.outside") {
		t.Fatalf("fd 8 is %q, want the host's rootfs.outside", l)
	}
	refusedDump(t, pid, "rootfs.outside (file ")
}

// refusedDump dumps the container whose root task is pid and wants the
// dump refused with want in its message, no inventory written, and the
// container still running. Restore refuses the same (the images of an
// older criu).
func refusedDump(t *testing.T, pid int, want string, extra ...string) {
	t.Helper()
	dir := t.TempDir()
	res, err := crtest.Run(context.Background(), crtest.Criu(t), append([]string{"dump", "-t", strconv.Itoa(pid), "-D", dir,
		"--external", "mnt[/usr]:usr", "--external", "mnt[/dev/null]:null"}, extra...)...)
	if err == nil || !strings.Contains(res, want) {
		t.Fatalf("dump: %v %q, want a refusal naming %q", err, res, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "inventory.img")); err == nil {
		t.Error("the refused dump left an inventory")
	}
	if !crtest.Alive(pid) {
		t.Error("the container did not run on after the refused dump")
	}
}

// A container whose root task runs from a bind of a directory of its
// rootfs (upstream zdtm's mnt_ro_root runs from its bind of
// zdtm/static): restore finds the executable through --root below the
// bind's source before the mounts exist, and the task counts on from
// the bind.
func TestRestoreRootContainerExeOnBind(t *testing.T) {
	r, pid := startCT(t, `cp /bin/sh /data/sh; mkdir -p /xb; mount --bind /data /xb
exec /xb/sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done'`)
	if l := mustReadlink(t, procfs.Path(pid, "exe")); l != "/xb/sh" {
		t.Fatalf("the container's root runs %q, want /xb/sh", l)
	}
	rpid := dumpRestoreCT(t, pid, r)
	if l := mustReadlink(t, procfs.Path(rpid, "exe")); l != "/xb/sh" {
		t.Errorf("restored, the root runs %q, want /xb/sh", l)
	}
	n := count(rpid)
	waitCount(t, rpid, n+2)
}
