package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// startCopy starts a sleep in a copy of criu's mount namespace (unshare
// -m, no pivot_root; propagation as unshare's --propagation), in dir,
// after the shell commands extra ran there.
func startCopy(t *testing.T, dir, propagation, extra string) int {
	t.Helper()
	cmd := exec.Command("unshare", "-m", "--propagation", propagation, "sh", "-ec", extra+"\nexec sleep 1000")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	for i := 0; ; i++ {
		if l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); strings.HasSuffix(l, "/sleep") {
			return pid
		}
		if i > 500 || !crtest.Alive(pid) {
			t.Fatalf("%q: the task did not start", extra)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mountHere mounts a tmpfs at dir in criu's mount namespace for the
// test (private, or shared), unmounted at its end.
func mountHere(t *testing.T, dir string, shared bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("here", dir, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	flag := uintptr(syscall.MS_PRIVATE)
	if shared {
		flag = syscall.MS_SHARED
	}
	if err := syscall.Mount("", dir, "", flag, ""); err != nil {
		t.Fatal(err)
	}
}

// A tree in a copy of criu's mount namespace is restored in a new copy
// of criu's made as the tree's was: the mounts it made there (a tmpfs
// with its files, binds, one remounted read-only, its own peer group
// and a slave of it, a bind joining a peer group of criu's) are made
// again, the one of criu's it unmounted is not there, and the mount
// table (points, filesystems, roots, ro, shared and master) is the
// dumped one; criu's own is left as it was.
func TestRestoreMountsInCopiedNamespace(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	for _, c := range []struct {
		propagation, extra string
		files              map[string]string
	}{
		{"private", `mkdir t; mount -t tmpfs made t; mkdir t/d; echo made > t/d/f; mkdir t/b src; echo src > src/f
mount --bind src t/b; mount -o remount,bind,ro t/b; umount gone`, map[string]string{"t/d/f": "made\n", "t/b/f": "src\n"}},
		{"unchanged", `mkdir -p g a b c; mount --bind g g; mount --make-private g; mount --make-shared g; mount --bind g a; mount --bind g b; mount --make-slave b
mkdir -p shared/in; mount --bind shared/in c`, nil},
	} {
		dir := t.TempDir()
		mountHere(t, filepath.Join(dir, "gone"), false)
		mountHere(t, filepath.Join(dir, "shared"), true)
		mine := mountTable(t, os.Getpid())
		pid := startCopy(t, dir, c.propagation, c.extra)
		before := mountTable(t, pid)
		if before == mine {
			t.Fatalf("%q: the tree's mount table is criu's", c.extra)
		}
		img := t.TempDir()
		if b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-o", "dump.log", "-v4").CombinedOutput(); err != nil {
			log, _ := os.ReadFile(filepath.Join(img, "dump.log"))
			t.Fatalf("%q: dump: %v\n%s\n%s", c.extra, err, b, log)
		}
		crtest.Kill(pid)
		// The tree's tmpfs devices are taken by others: the ones
		// restore makes have new numbers.
		for n := range 3 {
			mountHere(t, filepath.Join(dir, "hold"+strconv.Itoa(n)), false)
		}
		mine = mountTable(t, os.Getpid())
		pidfile := filepath.Join(img, "pid")
		npid := restoreDetached(t, exec.Command(criu, "restore", "-D", img, "-d", "-o", "restore.log", "-v4", "--pidfile", pidfile), img, pidfile, fmt.Sprintf("%q: ", c.extra))
		if after := mountTable(t, npid); after != before {
			t.Errorf("%q: mount table after restore:\n%s\nwant:\n%s", c.extra, after, before)
		}
		if now := mountTable(t, os.Getpid()); now != mine {
			t.Errorf("%q: criu's mount table after restore:\n%s\nwas:\n%s", c.extra, now, mine)
		}
		for name, want := range c.files {
			if got, err := os.ReadFile("/proc/" + strconv.Itoa(npid) + "/root" + filepath.Join(dir, name)); err != nil || string(got) != want {
				t.Errorf("%s after restore: %q %v, want %q", name, got, err, want)
			}
		}
		crtest.Kill(npid)
	}
}

// What restore cannot make in a new copy of criu's namespace is refused
// at dump by name (a ramfs, which is neither made anew nor a bind of a
// mount of the namespace; the bind of a file deleted since that had
// data, of a directory deleted since of another mode than the one it is
// mounted on); the copy as it was dumps, and so does the bind of a
// deleted directory of the mode of its mount point.
func TestDumpRefusesMountInCopiedNamespace(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	for _, c := range []struct{ extra, want string }{
		{"true", ""},
		{"mount -t ramfs ram r", "/r (ramfs, source ram, root /): unsupported: made in the tree's mount namespace, a copy of criu's"},
		{"echo data > f; touch g; mount --bind f g; rm f", "unsupported: a bind of a file deleted since, of 5 bytes"},
		{"mkdir -m 700 s; mkdir -m 755 d; mount --bind s d; rmdir s", "unsupported: a bind of a node deleted since, of mode 040700 and owner 0:0, over a node of mode 040755"},
		{"mkdir -m 755 s; chmod 755 r; mount --bind s r; rmdir s", ""},
	} {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "r"), 0o755); err != nil {
			t.Fatal(err)
		}
		pid := startCopy(t, dir, "private", c.extra)
		b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", t.TempDir(), "-R").CombinedOutput()
		if c.want == "" {
			if err != nil {
				t.Errorf("dump of the copy as it was: %v\n%s", err, b)
			}
		} else if err == nil || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: dump: %v\n%s\nwant a refusal naming %q", c.extra, err, b, c.want)
		}
		if !crtest.Alive(pid) {
			t.Errorf("%q: the dump did not leave the tree running", c.extra)
		}
		crtest.Kill(pid)
	}
}

// A tmpfs of criu's namespace that the tree's copy had, and that criu's
// no longer has at restore, cannot be made again (the dump saved none of
// its files: the copy would have had it): the restore fails naming it,
// and leaves no task.
func TestRestoreRefusesLostTmpfsOfCriu(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	dir := t.TempDir()
	kept := filepath.Join(dir, "kept")
	mountHere(t, kept, false)
	pid := startCopy(t, dir, "private", "mkdir t; mount -t tmpfs made t")
	img := t.TempDir()
	if b, err := exec.Command(criu, "dump", "-t", strconv.Itoa(pid), "-D", img).CombinedOutput(); err != nil {
		t.Fatalf("dump: %v\n%s", err, b)
	}
	crtest.Kill(pid)
	if err := syscall.Unmount(kept, 0); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(img, "pid")
	b, err := exec.Command(criu, "restore", "-D", img, "-d", "--pidfile", pidfile).CombinedOutput()
	want := "mount " + kept + " (tmpfs, source here): unsupported: a mount of criu's namespace at dump, whose files were not saved"
	if err == nil || !strings.Contains(string(b), want) {
		t.Errorf("restore: %v\n%s\nwant a refusal naming %q", err, b, want)
	}
	if _, err := os.Stat(pidfile); err == nil || crtest.Alive(pid) {
		t.Errorf("the failed restore left the task")
	}
}
