package restore_test

import (
	"context"
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
	"github.com/criugo/criu/criu/procfs"
)

// A file deleted while open that keeps another link: our dump refuses
// it by name (as CRIU 4.2 without --link-remap), the task runs on; CRIU
// 4.2's dump with --link-remap (a hard link in its directory, a LINKED
// remap) is restored by ours as CRIU 4.2 restores it: the fd is the
// file, deleted again, and the dump's link is gone.
func TestRestoreCRIULinkRemap(t *testing.T) {
	setup(t)
	criu42 := crtest.CRIU42()
	if _, err := os.Stat(criu42); err != nil {
		t.Skipf("needs CRIU 4.2: %v", err)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "exec 7<"+a+"; rm "+a+"; exec sleep 1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	for i := 0; ; i++ {
		if l, _ := os.Readlink(procfs.Path(pid, "fd/7")); l == a+" (deleted)" {
			break
		}
		if i > 200 {
			t.Fatal("the task did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	img := t.TempDir()
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", img)
	if err == nil || !strings.Contains(res, a+" was deleted while open") || !strings.Contains(res, "--link-remap") {
		t.Fatalf("our dump: %v %q, want a refusal naming %s and --link-remap", err, res, a)
	}
	if !crtest.Alive(pid) {
		t.Fatal("the task did not run on after the refused dump")
	}
	if out, err := crtest.Run(context.Background(), criu42, "dump", "-t", strconv.Itoa(pid), "-D", img, "--link-remap", "-v4", "-o", "dump.log"); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "dump.log"))
		t.Fatalf("CRIU 4.2 dump: %v\n%s\n%s", err, out, log)
	}
	reapChildren()
	pidfile := filepath.Join(img, "restored.pid")
	if out, err := crtest.Run(context.Background(), crtest.Criu(t), "restore", "-D", img, "-d", "-v4", "-o", "restore.log", "--pidfile", pidfile); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("our restore: %v\n%s\n%s", err, out, log)
	}
	bs, _ := os.ReadFile(pidfile)
	rpid, _ := strconv.Atoi(string(bs))
	t.Cleanup(func() { crtest.Kill(rpid); crtest.Reap(rpid) })
	fd := procfs.Path(rpid, "fd/7")
	if l, err := os.Readlink(fd); err != nil || l != a+" (deleted)" {
		t.Errorf("fd 7: %q %v, want %s (deleted)", l, err, a)
	}
	if got, err := os.ReadFile(fd); err != nil || string(got) != "data\n" {
		t.Errorf("fd 7 reads %q %v", got, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(fd, &st); err != nil || st.Nlink != 1 {
		t.Errorf("fd 7: %d links (%v), want 1 (b)", st.Nlink, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "b" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want b only", dir, names)
	}
}

// Our dump --link-remap of a task holding a file whose path was renamed
// over by another file (fd 7, its data kept by a hard link) and one
// hard-linked in another directory then unlinked (fd 8), and one so
// unlinked whose directory was removed too (fd 9, upstream zdtm's
// unlink_regular00): each is linked back as link_remap.N in its
// directory (or the nearest one left), and our restore gives the task
// the same inodes with their data and offsets, leaving no link_remap
// and no directory made for the link; so does CRIU 4.2's restore of our
// images.
func TestDumpLinkRemap(t *testing.T) {
	t.Run("ours", func(t *testing.T) { testDumpLinkRemap(t, crtest.Criu(t)) })
	t.Run("criu42", func(t *testing.T) {
		criu42 := crtest.CRIU42()
		if _, err := os.Stat(criu42); err != nil {
			t.Skipf("needs CRIU 4.2: %v", err)
		}
		testDumpLinkRemap(t, criu42)
	})
}

func testDumpLinkRemap(t *testing.T, restorer string) {
	setup(t)
	dir, other := t.TempDir(), t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(other, "b"), filepath.Join(dir, "c")
	x, y := filepath.Join(dir, "x"), filepath.Join(other, "y")
	sub := filepath.Join(dir, "sub")
	z, w := filepath.Join(sub, "z"), filepath.Join(other, "w")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, s := range map[string]string{a: "first\n", c: "other\n", x: "second\n", z: "third\n"} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(x, y); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(z, w); err != nil {
		t.Fatal(err)
	}
	var sa, sx, sz unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(x, &sx) != nil || unix.Stat(z, &sz) != nil {
		t.Fatal("stat")
	}
	cmd := exec.Command("sh", "-c", "exec 7<"+a+" 8<"+x+" 9<"+z+"; read -r l <&7; mv "+c+" "+a+"; rm "+x+" "+z+"; rmdir "+sub+"; exec sleep 1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	for i := 0; ; i++ {
		if l, _ := os.Readlink(procfs.Path(pid, "fd/9")); l == z+" (deleted)" {
			if l, _ := os.Readlink(procfs.Path(pid, "exe")); strings.HasSuffix(l, "sleep") {
				break
			}
		}
		if i > 200 {
			t.Fatal("the task did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	img := t.TempDir()
	if out, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", img, "--link-remap", "-v4", "-o", "dump.log"); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "dump.log"))
		t.Fatalf("our dump --link-remap: %v\n%s\n%s", err, out, log)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "link_remap.*")); len(m) != 3 {
		t.Fatalf("after the dump %s holds links %v, want 3", dir, m)
	}
	reapChildren()
	pidfile := filepath.Join(img, "restored.pid")
	if out, err := crtest.Run(context.Background(), restorer, "restore", "-D", img, "-d", "-v4", "-o", "restore.log", "--pidfile", pidfile); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("restore by %s: %v\n%s\n%s", restorer, err, out, log)
	}
	bs, _ := os.ReadFile(pidfile)
	rpid, _ := strconv.Atoi(strings.TrimSpace(string(bs)))
	t.Logf("restored by %s as %d", restorer, rpid)
	t.Cleanup(func() { crtest.Kill(rpid); crtest.Reap(rpid) })
	for _, w := range []struct {
		fd, data string
		ino      uint64
	}{{"fd/7", "first\n", sa.Ino}, {"fd/8", "second\n", sx.Ino}, {"fd/9", "third\n", sz.Ino}} {
		fd := procfs.Path(rpid, w.fd)
		var st unix.Stat_t
		if err := unix.Stat(fd, &st); err != nil || st.Ino != w.ino {
			t.Errorf("%s: inode %d (%v), want %d", w.fd, st.Ino, err, w.ino)
		}
		if got, err := os.ReadFile(fd); err != nil || string(got) != w.data {
			t.Errorf("%s reads %q %v, want %q", w.fd, got, err, w.data)
		}
	}
	// The offsets: fd 7 was read past its one line, fd 8 not at all.
	for fd, pos := range map[string]string{"7": "6", "8": "0"} {
		bs, _ := os.ReadFile(procfs.Path(rpid, "fdinfo/"+fd))
		if !strings.Contains(string(bs), "pos:\t"+pos+"\n") {
			t.Errorf("fdinfo %s: %q, want pos %s", fd, bs, pos)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "link_remap.*")); len(m) != 0 {
		t.Errorf("after the restore %s holds %v", dir, m)
	}
	if _, err := os.Lstat(sub); err == nil {
		t.Errorf("after the restore %s, made for the link, is left", sub)
	}
	if l, _ := os.Readlink(procfs.Path(rpid, "fd/9")); l != z+" (deleted)" {
		t.Errorf("fd 9 is %q, want %s (deleted)", l, z)
	}
	if got, _ := os.ReadFile(a); string(got) != "other\n" {
		t.Errorf("%s holds %q, want the file renamed over it", a, got)
	}
}

// A dump --link-remap that fails (here on a flock held without
// --file-locks, an fd after the linked file's) removes the link it
// made, and the task runs on.
func TestDumpLinkRemapFailed(t *testing.T) {
	setup(t)
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skipf("needs flock: %v", err)
	}
	dir, other := t.TempDir(), t.TempDir()
	a, b, l := filepath.Join(dir, "a"), filepath.Join(other, "b"), filepath.Join(other, "lock")
	if err := os.WriteFile(a, []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "exec 7<"+a+"; rm "+a+"; exec 9>"+l+"; flock 9; exec sleep 1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid); crtest.Reap(pid) })
	for i := 0; ; i++ {
		if l, _ := os.Readlink(procfs.Path(pid, "exe")); strings.HasSuffix(l, "sleep") {
			break
		}
		if i > 200 {
			t.Fatal("the task did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", t.TempDir(), "--link-remap")
	if err == nil || !strings.Contains(res, "file-locks") {
		t.Fatalf("dump: %v %q, want the held lock refused", err, res)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "link_remap.*")); len(m) != 0 {
		t.Errorf("the failed dump left %v", m)
	}
	if !crtest.Alive(pid) {
		t.Error("the task did not run on after the failed dump")
	}
}
