package restore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/procfs"
)

// startNsTree runs nstree.c in mode and returns the host pid of its init
// (pid 1 of its own pid, net, uts, ipc and mount namespaces) once every
// task runs, with a cleanup that kills the tree.
func startNsTree(t *testing.T, mode string) (root int, out string) {
	t.Helper()
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "nstree.c"), false)
	out = filepath.Join(t.TempDir(), "out.txt")
	cmd := crtest.Start(t, bin, out, mode)
	cmd.Wait()
	crtest.WaitFor(t, out, "READY", 10*time.Second)
	b, _ := os.ReadFile(out)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "ROOT "); ok {
			root, _ = strconv.Atoi(v)
		}
	}
	if root <= 0 {
		t.Fatalf("no ROOT line in:\n%s", b)
	}
	t.Cleanup(func() {
		// Killing the init of a pid namespace kills every task in it.
		unix.Kill(root, unix.SIGKILL)
		reapAll(t, []int{root})
	})
	return root, out
}

// innerPid is the pid of host pid p inside its own pid namespace.
func innerPid(t *testing.T, path string) int {
	t.Helper()
	st, err := procfs.ReadStatusFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.Inner("NSpid")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tasksRunning lists the live processes running program bin.
func tasksRunning(t *testing.T, bin string) []int {
	t.Helper()
	var out []int
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(procfs.Path(pid, "exe")); err == nil && strings.TrimSuffix(exe, " (deleted)") == bin && crtest.Alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// dumpedNsTree dumps a running nstree (mode ok), which the dump kills,
// and returns the images dir and the workload's output file.
func dumpedNsTree(t *testing.T) (img, out string) {
	t.Helper()
	root, out := startNsTree(t, "ok")
	img = filepath.Join(t.TempDir(), "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, root, img)
	reapAll(t, []int{root})
	return img, out
}

// A tree rooted at the init of its own pid namespace, with its own net,
// uts, ipc and mount namespaces, a child with a thread and a zombie:
// dumped by its host pid and restored into new namespaces with the same
// inner pids; its hostname, lo, a TCP listener, an abstract UNIX listener
// and a System V shm segment both tasks attach work again.
func TestNsTree(t *testing.T) {
	img, out := dumpedNsTree(t)
	for _, name := range []string{"iplinks", "ifaddr", "utsns", "ipcns-var", "ipcns-shm"} {
		if m, _ := filepath.Glob(filepath.Join(img, name+"-*.img")); len(m) != 1 {
			t.Errorf("%s images: %v", name, m)
		}
	}
	// The segment is the ipc namespace's, not one of the host's.
	if _, err := os.Stat(filepath.Join(img, "ipcns-shm-0.img")); err == nil {
		t.Error("host SysV shm image written for a tree with its own ipc namespace")
	}
	got := restoreCmd(t, img)
	t.Cleanup(func() {
		unix.Kill(got, unix.SIGKILL)
		reapAll(t, []int{got})
	})
	if v := innerPid(t, procfs.Path(got, "status")); v != 1 {
		t.Errorf("restored root %d is pid %d inside, want 1", got, v)
	}
	for _, kind := range []string{"pid", "net", "ipc", "uts", "mnt"} {
		mine, _ := procfs.NsIno(0, kind)
		theirs, err := procfs.NsIno(got, kind)
		if err != nil || theirs == mine {
			t.Errorf("restored root's %s namespace %d (%v) is ours", kind, theirs, err)
		}
	}
	kids, err := procfs.Children(got)
	if err != nil || len(kids) != 2 {
		t.Fatalf("children of the restored root: %v, %v", kids, err)
	}
	if v := innerPid(t, procfs.Path(kids[1], "status")); v != 4 || crtest.Alive(kids[1]) {
		t.Errorf("zombie %d is pid %d inside (want 4), alive %v", kids[1], v, crtest.Alive(kids[1]))
	}
	var inner []int
	tids, _ := procfs.Tasks(kids[0])
	for _, tid := range tids {
		inner = append(inner, innerPid(t, procfs.Path(kids[0], fmt.Sprintf("task/%d/status", tid))))
	}
	if fmt.Sprint(inner) != "[2 3]" {
		t.Errorf("child's threads are %v inside, want [2 3]", inner)
	}
	unix.Kill(got, unix.SIGUSR2)
	waitVerdict(t, out)
}

// A restore that fails half way (the child's pages are truncated) leaves
// no task and no namespace behind.
func TestNsTreeRestoreFailKillsAll(t *testing.T) {
	img, _ := dumpedNsTree(t)
	pages := filepath.Join(img, "pages-2.img")
	st, err := os.Stat(pages)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(pages, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"))
	if err == nil {
		t.Fatalf("restore of truncated pages succeeded: %s", res)
	}
	t.Logf("restore error: %s", strings.TrimSpace(res))
	if !strings.Contains(res, "pages") {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Errorf("restore failed for another reason than the truncated pages:\n%s", log)
	}
	// A namespace lives while a task is in it (or an fd or mount holds
	// it, which only the restorer, now gone, had): no task of the
	// workload's program may be left.
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "nstree.c"), false)
	for _, p := range tasksRunning(t, bin) {
		pid, _ := procfs.NsIno(p, "pid")
		t.Errorf("task %d (pid namespace %d) left behind by the failed restore", p, pid)
	}
}

// threadSignals returns, for every thread of pids, its blocked, ignored
// and caught signal sets, all but SIGUSR2 (which nstree's child blocks
// and unblocks as it waits for it), and fails the test if a thread is
// stopped or traced.
func threadSignals(t *testing.T, pids []int) map[int]string {
	t.Helper()
	got := map[int]string{}
	for _, pid := range pids {
		for _, tid := range threadsOf(t, pid) {
			st, err := procfs.ReadStatusFile(procfs.Path(pid, fmt.Sprintf("task/%d/status", tid)))
			if err != nil {
				t.Fatal(err)
			}
			if s := st["State"]; strings.HasPrefix(s, "t") || strings.HasPrefix(s, "T") || st["TracerPid"] != "0" {
				t.Errorf("thread %d of %d is %s, traced by %s", tid, pid, s, st["TracerPid"])
			}
			var sets []string
			for _, k := range []string{"SigBlk", "SigIgn", "SigCgt"} {
				v, err := st.Hex(k)
				if err != nil {
					t.Fatal(err)
				}
				sets = append(sets, fmt.Sprintf("%s %#x", k, v&^(1<<(unix.SIGUSR2-1))))
			}
			got[tid] = strings.Join(sets, ", ")
		}
	}
	return got
}

// A child in another network namespace than the root is refused at dump,
// naming the task and the namespace, and the tree runs on as before:
// every thread there, none stopped or traced, with the signal mask and
// handlers it had, and the workload's own checks pass.
func TestNsTreeSplitRefused(t *testing.T) {
	root, out := startNsTree(t, "split")
	kids, err := procfs.Children(root)
	if err != nil || len(kids) != 2 {
		t.Fatalf("children of %d: %v, %v", root, kids, err)
	}
	live := []int{root, kids[0]}
	before := threadSignals(t, live)
	img := filepath.Join(t.TempDir(), "img")
	os.Mkdir(img, 0o755)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(root), "-D", img)
	if err == nil {
		t.Fatalf("dump of a split tree succeeded: %s", res)
	}
	if !strings.Contains(res, fmt.Sprintf("task %d is in another net namespace", kids[0])) {
		t.Errorf("dump error does not name the child %d and its net namespace: %s", kids[0], res)
	}
	if !crtest.Alive(root) || !crtest.Alive(kids[0]) {
		t.Fatalf("tasks gone after a refused dump")
	}
	after := threadSignals(t, live)
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("threads after the refused dump:\n%v\nbefore:\n%v", after, before)
	}
	unix.Kill(root, unix.SIGUSR2)
	waitVerdict(t, out)
}

// inNetns runs the ip tool inside the network namespace of task pid and
// returns its output.
func inNetns(t *testing.T, pid int, args ...string) string {
	t.Helper()
	ns, err := netns.OpenPid(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	var out []byte
	err = ns.Do(func() error {
		var err error
		out, err = exec.Command("ip", args...).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("ip %v in the netns of %d: %v\n%s", args, pid, err, out)
	}
	return string(out)
}

// A veth of the tree's network namespace whose peer is outside comes back
// with its address, and with --external veth[IN]:OUT its peer is created
// outside with that name.
func TestNsTreeVeth(t *testing.T) {
	root, _ := startNsTree(t, "ok")
	outer := fmt.Sprintf("nsto%d", root)
	if b, err := exec.Command("ip", "link", "add", "veth0", "netns", strconv.Itoa(root), "type", "veth", "peer", "name", outer).CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v\n%s", err, b)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", outer).Run() })
	// With the peer down, the route through veth0 is LINKDOWN, which
	// `ip route restore` refuses (a criu/netns limit, reported).
	if b, err := exec.Command("ip", "link", "set", outer, "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set up: %v\n%s", err, b)
	}
	inNetns(t, root, "addr", "add", "198.18.7.1/24", "dev", "veth0")
	inNetns(t, root, "link", "set", "veth0", "up")
	img := filepath.Join(t.TempDir(), "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, root, img, "--external", "veth[veth0]:"+outer)
	reapAll(t, []int{root})
	// The dumped namespace goes, and its veth pair with it (the kernel
	// tears namespaces down in the background).
	for i := 0; exec.Command("ip", "link", "show", outer).Run() == nil; i++ {
		if i == 500 {
			t.Fatalf("veth peer %s still there 10s after the dump", outer)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pidfile := filepath.Join(img, "restored.pid")
	args := []string{"restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile, "--external", "veth[veth0]:" + outer}
	if res, err := crtest.Run(context.Background(), crtest.Criu(t), args...); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("criu %v: %v\n%s\n%s", args, err, res, log)
	}
	b, _ := os.ReadFile(pidfile)
	got, _ := strconv.Atoi(string(b))
	t.Cleanup(func() {
		unix.Kill(got, unix.SIGKILL)
		reapAll(t, []int{got})
	})
	if b, err := exec.Command("ip", "link", "show", outer).CombinedOutput(); err != nil {
		t.Errorf("veth peer %s not created outside: %v\n%s", outer, err, b)
	}
	if a := inNetns(t, got, "addr", "show", "dev", "veth0"); !strings.Contains(a, "198.18.7.1/24") {
		t.Errorf("veth0 in the restored namespace:\n%s", a)
	}
}

// A task in its own pid namespace that is not the namespace's init is
// refused at dump, naming its pid there, and runs on.
func TestNsTreeNotInitRefused(t *testing.T) {
	root, _ := startNsTree(t, "ok")
	kids, err := procfs.Children(root)
	if err != nil || len(kids) != 2 {
		t.Fatalf("children of %d: %v, %v", root, kids, err)
	}
	img := filepath.Join(t.TempDir(), "img")
	os.Mkdir(img, 0o755)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(kids[0]), "-D", img)
	if err == nil {
		t.Fatalf("dump of a pid namespace's pid 2 succeeded: %s", res)
	}
	if !strings.Contains(res, "the root is pid 2 in a pid namespace of its own") {
		t.Errorf("dump error: %s", res)
	}
	if !crtest.Alive(kids[0]) || len(threadsOf(t, kids[0])) != 2 {
		t.Errorf("task %d not running on with its thread after the refused dump", kids[0])
	}
}

func threadsOf(t *testing.T, pid int) []int {
	t.Helper()
	tids, err := procfs.Tasks(pid)
	if err != nil {
		t.Fatal(err)
	}
	return tids
}
