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
