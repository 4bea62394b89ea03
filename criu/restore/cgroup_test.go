package restore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestCgroupRoot dumps a counter in a pids cgroup of its own with a
// pids.max, removes the cgroup, restores it with the criu command and
// --cgroup-root pids:/OTHER, and checks that the counter goes on in
// OTHER, made with the saved pids.max.
func TestCgroupRoot(t *testing.T) {
	setup(t)
	hier := "/sys/fs/cgroup/pids"
	if _, err := os.Stat(filepath.Join(hier, "cgroup.procs")); err != nil {
		t.Skip("no cgroup v1 pids hierarchy")
	}
	cg := fmt.Sprintf("/criugo-restore-cg-%d", os.Getpid())
	moved := cg + "-moved"
	t.Cleanup(func() {
		for _, p := range []string{cg, moved} {
			for i := 0; i < 100; i++ {
				if err := os.Remove(hier + p); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(10 * time.Millisecond) // its task not reaped yet
			}
		}
	})
	if err := os.Mkdir(hier+cg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hier+cg+"/pids.max", []byte("31"), 0); err != nil {
		t.Fatal(err)
	}
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	if err := os.WriteFile(hier+cg+"/cgroup.procs", []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatal(err)
	}
	crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	if err := os.Remove(hier + cg); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(img, "restored.pid")
	args := []string{"restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile, "--cgroup-root", "pids:" + moved}
	if o, err := crtest.Run(context.Background(), crtest.Criu(t), args...); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("criu %v: %v\n%s\n%s", args, err, o, log)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), ":pids:"+moved+"\n") {
		t.Errorf("restored in\n%s\nwant pids:%s", b, moved)
	}
	if v, _ := os.ReadFile(hier + moved + "/pids.max"); strings.TrimSpace(string(v)) != "31" {
		t.Errorf("%s: pids.max %q, want 31", moved, v)
	}
	if _, err := os.Stat(hier + cg); err == nil {
		t.Errorf("%s was made again: --cgroup-root moves it", cg)
	}
	n0, _ := counterLines(t, out)
	crtest.WaitFor(t, out, fmt.Sprintf("\n%d 0\n", n0+5), 5*time.Second)
	crtest.Kill(pid)
	crtest.Reap(pid)
}

// TestCgroupUnmountedHierarchy puts a counter in cgroup /c of a named
// cgroup v1 hierarchy that is then unmounted (every task stays in it,
// as after a program that made one and went away), dumps it, removes
// /c, restores it, and checks that the counter goes on in /c again:
// criu mounts such a hierarchy for itself. Podman and runc checkpoints
// failed on a host with one ("not mounted where criu can see it").
func TestCgroupUnmountedHierarchy(t *testing.T) {
	setup(t)
	name := fmt.Sprintf("criugo-unseen-%d", os.Getpid())
	mnt := t.TempDir()
	mountIt := func() {
		t.Helper()
		if err := unix.Mount("cgroup", mnt, "cgroup", 0, "none,name="+name); err != nil {
			t.Skipf("no named cgroup v1 hierarchy here: %v", err)
		}
	}
	mountIt()
	if err := os.Mkdir(filepath.Join(mnt, "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	unix.Unmount(mnt, 0)
	t.Cleanup(func() {
		// Leave no hierarchy behind: empty it, then unmount it.
		if unix.Mount("cgroup", mnt, "cgroup", 0, "none,name="+name) != nil {
			return
		}
		for i := 0; i < 100; i++ {
			if err := os.Remove(filepath.Join(mnt, "c")); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(10 * time.Millisecond) // its task not reaped yet
		}
		unix.Unmount(mnt, 0)
	})
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	mountIt()
	if err := os.WriteFile(filepath.Join(mnt, "c", "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatal(err)
	}
	unix.Unmount(mnt, 0)
	want := ":name=" + name + ":/c\n"
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); !strings.Contains(string(b), want) {
		t.Fatalf("the counter is in\n%s\nwant %s", b, want)
	}
	crtest.WaitFor(t, out, "\n3 0\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	mountIt()
	if err := os.Remove(filepath.Join(mnt, "c")); err != nil {
		t.Fatal(err)
	}
	unix.Unmount(mnt, 0)
	pidfile := filepath.Join(img, "restored.pid")
	args := []string{"restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile}
	if o, err := crtest.Run(context.Background(), crtest.Criu(t), args...); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("criu %v: %v\n%s\n%s", args, err, o, log)
	}
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); !strings.Contains(string(b), want) {
		t.Errorf("restored in\n%s\nwant %s", b, want)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), "name="+name) {
		t.Errorf("criu left a mount of the hierarchy:\n%s", b)
	}
	n0, _ := counterLines(t, out)
	crtest.WaitFor(t, out, fmt.Sprintf("\n%d 0\n", n0+5), 5*time.Second)
	crtest.Kill(pid)
	crtest.Reap(pid)
}
