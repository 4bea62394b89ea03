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
