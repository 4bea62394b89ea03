package restore_test

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

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// ticks counts the counter's lines o has collected (collect,
// shelljob_test.go).
func (o *output) ticks() int {
	return strings.Count(o.String(), "tick ")
}

func (p *output) waitTicks(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.ticks() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d ticks on the pipe after 5s, want %d", p.ticks(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pipeIno is the inode of the pipe at fd of pid.
func pipeIno(t *testing.T, pid, fd int) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	if err != nil || !strings.HasPrefix(l, "pipe:[") {
		t.Fatalf("fd %d of %d: %q, %v; want a pipe", fd, pid, l, err)
	}
	return strings.TrimSuffix(strings.TrimPrefix(l, "pipe:["), "]")
}

// startPipeIO starts pipeio with its stdin and stdout pipes whose other
// ends only the test holds (as a supervisor's or container runtime's
// stdio), and "abc" buffered on its stdin.
func startPipeIO(t *testing.T, dir string) (pid int, log string, out *output, cmd *exec.Cmd) {
	t.Helper()
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "pipeio.c"), false)
	// Only the pipes must reach the workload (crtest.Start does so).
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inW.Close(); outR.Close() })
	log = filepath.Join(dir, "log.txt")
	cmd = exec.Command(bin, log)
	cmd.Stdin, cmd.Stdout = inR, outW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	if _, err := inW.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	out = collect(outR)
	crtest.WaitFor(t, log, "ready\n", 5*time.Second)
	out.waitTicks(t, 3)
	return cmd.Process.Pid, log, out, cmd
}

// restoreWith runs criu restore -d with extra fds (ExtraFiles, from fd 3)
// and arguments, and returns the restored pid.
func restoreWith(t *testing.T, img string, extra []*os.File, args ...string) int {
	t.Helper()
	pidfile := filepath.Join(img, "restored.pid")
	a := append([]string{"restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile}, args...)
	rc := exec.Command(crtest.Criu(t), a...)
	rc.ExtraFiles = extra
	if b, err := rc.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("criu %v: %v\n%s\n%s", a, err, b, log)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	return pid
}

// A task whose stdin and stdout are pipes to a process outside the tree
// (a supervisor's, a container runtime's) is dumped; restore with
// --inherit-fd fd[N]:pipe:[INO] gives it the restorer's pipes in their
// place: the test reads its output from the new pipe and feeds its input.
func TestExternalPipeInheritFd(t *testing.T) {
	setup(t)
	dir := t.TempDir()
	pid, log, out, cmd := startPipeIO(t, dir)
	defer crtest.Kill(pid)
	inIno, outIno := pipeIno(t, pid, 0), pipeIno(t, pid, 1)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	select {
	case <-out.done: // the writer is gone
	case <-time.After(5 * time.Second):
		t.Fatal("the old stdout pipe is still open after the dump")
	}

	newInR, newInW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer newInW.Close()
	newOutR, newOutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer newOutR.Close()
	got := restoreWith(t, img, []*os.File{newOutW, newInR},
		"--inherit-fd", "fd[3]:pipe:["+outIno+"]", "--inherit-fd", "fd[4]:pipe:["+inIno+"]")
	if got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	newOutW.Close()
	newInR.Close()
	out2 := collect(newOutR)
	out2.waitTicks(t, 3)
	if pipeIno(t, pid, 1) != fdIno(t, newOutR) || pipeIno(t, pid, 0) != fdIno(t, newInW) {
		t.Fatal("the restored task's stdio is not the inherited pipes")
	}
	if _, err := newInW.Write([]byte("xyz")); err != nil {
		t.Fatal(err)
	}
	unix.Kill(pid, unix.SIGUSR1)
	crtest.WaitFor(t, log, "read: ", 5*time.Second)
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "read: xyz\n") || strings.Contains(string(b), "write: ") {
		t.Fatalf("log after restore with --inherit-fd:\n%s", b)
	}
}

// fdIno is the inode of an open file of ours.
func fdIno(t *testing.T, f *os.File) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatUint(st.Ino, 10)
}

// Without --inherit-fd, as CRIU: each pipe is made anew with the bytes
// that were buffered on the task's read end, and its other end is held
// by no one: reads drain "abc" then see EOF, writes fail with EPIPE.
func TestExternalPipeNew(t *testing.T) {
	setup(t)
	dir := t.TempDir()
	pid, log, out, cmd := startPipeIO(t, dir)
	defer crtest.Kill(pid)
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	<-out.done
	if got := restoreWith(t, img, nil); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	crtest.WaitFor(t, log, "write: EPIPE\n", 5*time.Second)
	unix.Kill(pid, unix.SIGUSR1)
	crtest.WaitFor(t, log, "read: abc\n", 5*time.Second)
	unix.Kill(pid, unix.SIGUSR1)
	crtest.WaitFor(t, log, "read: EOF\n", 5*time.Second)
}
