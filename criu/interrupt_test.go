package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/cmdstore"
	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
)

// heapMiB is the workload's dirty heap: enough that the page write is
// the dump's longest step, which the signals are aimed at.
const heapMiB = 256

// startBig starts testdata/bigcounter.c with a heapMiB heap and waits
// for it to be ready. It returns the pid and the output file.
func startBig(t *testing.T) (int, string) {
	t.Helper()
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	out := filepath.Join(t.TempDir(), "out.txt")
	cmd := crtest.Start(t, bin, out, strconv.Itoa(heapMiB))
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, out, "READY", 20*time.Second)
	return pid, out
}

// ticks is the workload's last counter value.
func ticks(out string) int {
	b, _ := os.ReadFile(out)
	i := bytes.LastIndex(b, []byte("tick "))
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+5:]))
	if len(f) == 0 {
		return -1
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// checkLetGo checks that a task whose dump was interrupted runs as it
// did: not stopped, not traced, no scratch mapping of ours left, its
// counter advancing and its heap intact.
func checkLetGo(t *testing.T, pid int, out string) {
	t.Helper()
	if !crtest.Alive(pid) {
		t.Fatal("the task is gone")
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			switch f[0] {
			case "TracerPid:":
				if f[1] != "0" {
					t.Errorf("still traced by %s", f[1])
				}
			case "State:":
				if f[1] == "T" || f[1] == "t" {
					t.Errorf("left stopped: %s", l)
				}
			}
		}
	}
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if bytes.Contains(maps, []byte("/dev/zero (deleted)")) {
		t.Errorf("a scratch mapping is left:\n%s", maps)
	}
	n := ticks(out)
	deadline := time.Now().Add(5 * time.Second)
	for ticks(out) < n+5 {
		if time.Now().After(deadline) {
			t.Fatalf("the counter does not advance (at %d)", ticks(out))
		}
		time.Sleep(10 * time.Millisecond)
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 20*time.Second)
}

// checkNoImages checks that an interrupted dump left no image: none
// that makes the set look complete, none half-written, none at all.
func checkNoImages(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".img") || strings.Contains(n, ".part-") {
			t.Errorf("left in the images dir: %s", n)
		}
	}
}

// logHas is a signalAt mark: the log file holds s.
func logHas(logFile, s string) func() bool {
	return func() bool {
		b, _ := os.ReadFile(logFile)
		return bytes.Contains(b, []byte(s))
	}
}

// signalAt runs criu with args, sends sig once mark returns true, and
// returns criu's exit code, its stderr and how long it took to exit
// after the signal.
func signalAt(t *testing.T, sig syscall.Signal, mark func() bool, args ...string) (int, string, time.Duration) {
	t.Helper()
	cmd := exec.Command(crtest.Criu(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !mark() {
		select {
		case err := <-exited:
			t.Fatalf("criu exited (%v) before the moment to signal it:\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the moment to signal criu did not come in 30s")
		}
		time.Sleep(time.Millisecond)
	}
	t0 := time.Now()
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("criu still runs 10s after %v", sig)
	}
	return cmd.ProcessState.ExitCode(), stderr.String(), time.Since(t0)
}

// Each interrupting signal, at each phase of a dump: criu stops within
// seconds, says so, exits 128+signo, and the tree runs on as it was
// with no image set left that looks complete.
func TestDumpInterrupted(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	phases := []struct{ name, mark string }{
		{"freezing", "freezing"},
		{"frozen", "tree frozen"},
		{"pages", "incremental split"},
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		for _, ph := range phases {
			t.Run(signalName(sig)+"/"+ph.name, func(t *testing.T) {
				pid, out := startBig(t)
				dir := t.TempDir()
				logf := filepath.Join(t.TempDir(), "dump.log")
				rc, stderr, took := signalAt(t, sig, logHas(logf, ph.mark), "dump", "-t", strconv.Itoa(pid), "-D", dir, "-o", logf, "-v4")
				t.Logf("rc %d after %v: %s", rc, took, strings.TrimSpace(stderr))
				if rc != 128+int(sig) {
					b, _ := os.ReadFile(logf)
					t.Fatalf("criu dump exited %d, want %d; stderr: %s\nlog:\n%s", rc, 128+int(sig), stderr, b)
				}
				if want := "interrupted by " + signalName(sig); !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not say %q", stderr, want)
				}
				checkNoImages(t, dir)
				checkLetGo(t, pid, out)
			})
		}
	}
}

// The same for a pre-dump, which writes its pages after the tree runs
// again.
func TestPreDumpInterrupted(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	for _, ph := range []struct{ name, mark string }{{"frozen", "tree frozen"}, {"pages", "tree resumed"}} {
		t.Run(ph.name, func(t *testing.T) {
			pid, out := startBig(t)
			dir := t.TempDir()
			logf := filepath.Join(t.TempDir(), "pre.log")
			rc, stderr, took := signalAt(t, syscall.SIGTERM, logHas(logf, ph.mark), "pre-dump", "-t", strconv.Itoa(pid), "-D", dir, "-o", logf, "-v4")
			t.Logf("rc %d after %v: %s", rc, took, strings.TrimSpace(stderr))
			if rc != 128+int(syscall.SIGTERM) || !strings.Contains(stderr, "interrupted by SIGTERM") {
				t.Fatalf("criu pre-dump exited %d: %s", rc, stderr)
			}
			checkNoImages(t, dir)
			checkLetGo(t, pid, out)
		})
	}
}

// A restore interrupted while it fills the memory kills what it
// created: the pid is free again.
func TestRestoreInterrupted(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	pid, _ := startBig(t)
	dir := t.TempDir()
	if res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir); err != nil {
		t.Fatalf("dump: %v\n%s", err, res)
	}
	crtest.Reap(pid)
	logf := filepath.Join(t.TempDir(), "restore.log")
	// Once the task exists again, its memory is being filled.
	forked := func() bool { return crtest.Alive(pid) }
	rc, stderr, took := signalAt(t, syscall.SIGTERM, forked, "restore", "-D", dir, "-d", "-o", logf, "-v4")
	t.Logf("rc %d after %v: %s", rc, took, strings.TrimSpace(stderr))
	if rc != 128+int(syscall.SIGTERM) || !strings.Contains(stderr, "interrupted by SIGTERM") {
		b, _ := os.ReadFile(logf)
		t.Fatalf("criu restore exited %d: %s\n%s", rc, stderr, b)
	}
	crtest.Reap(pid)
	if crtest.Alive(pid) {
		t.Fatalf("the half-restored task %d runs on", pid)
	}
}

// A dump whose terminal closes (SIGHUP to the session leader) stops
// like one that gets SIGHUP.
func TestDumpTerminalClosed(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	pid, out := startBig(t)
	dir := t.TempDir()
	logf := filepath.Join(t.TempDir(), "dump.log")
	master, slave := openPty(t)
	cmd := exec.Command(crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir, "-o", logf, "-v4")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	crtest.WaitFor(t, logf, "tree frozen", 20*time.Second)
	master.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("criu still runs 10s after its terminal closed")
	}
	if rc := cmd.ProcessState.ExitCode(); rc != 128+int(syscall.SIGHUP) {
		b, _ := os.ReadFile(logf)
		t.Fatalf("criu dump exited %d, want %d\n%s", rc, 128+int(syscall.SIGHUP), b)
	}
	checkNoImages(t, dir)
	checkLetGo(t, pid, out)
}

// openPty opens a pseudo-terminal pair.
func openPty(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV) {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// startDaemon starts `criu image-cache` or `criu image-proxy` and waits
// until it reports readiness on --status-fd.
func startDaemon(t *testing.T, args ...string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var log bytes.Buffer
	cmd := exec.Command(crtest.Criu(t), append(args, "--status-fd", "3", "-v4")...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
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
		t.Fatalf("%s not ready: %v", args[0], err)
	}
}

// A remote dump interrupted: the message names the signal (not "remote
// image service unavailable"), the tree runs on, and the cache holds no
// finished snapshot.
func TestRemoteDumpInterrupted(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	tmp := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cacheSock, proxySock := filepath.Join(tmp, "cache.sock"), filepath.Join(tmp, "proxy.sock")
	startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", port, "-D", filepath.Join(tmp, "cache"), "--local-socket", cacheSock)
	startDaemon(t, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", proxySock)

	pid, out := startBig(t)
	logf := filepath.Join(tmp, "dump.log")
	rc, stderr, took := signalAt(t, syscall.SIGTERM, logHas(logf, "incremental split"), "dump", "-t", strconv.Itoa(pid),
		"-D", filepath.Join(tmp, "d"), "--remote", "--remote-socket", proxySock, "-o", logf, "-v4")
	t.Logf("rc %d after %v: %s", rc, took, strings.TrimSpace(stderr))
	if rc != 128+int(syscall.SIGTERM) || !strings.Contains(stderr, "interrupted by SIGTERM") || strings.Contains(stderr, "unavailable") {
		b, _ := os.ReadFile(logf)
		t.Fatalf("criu dump --remote exited %d: %s\n%s", rc, stderr, b)
	}
	checkLetGo(t, pid, out)
	list, err := crtest.Run(context.Background(), crtest.Criu(t), "image-cache", "--list", "--local-socket", cacheSock)
	if err != nil {
		t.Fatalf("image-cache --list: %v\n%s", err, list)
	}
	if strings.Contains(list, "finished") {
		t.Errorf("the interrupted dump's snapshot is finished:\n%s", list)
	}
}

// children lists the children of pid.
func children(pid int) []int {
	var out []int
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, tk := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, tk.Name()))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// criu dump killed with SIGKILL (a harness's timeout, kill -9): the
// tree is let go as for SIGTERM, by the worker that did the dump, which
// learns of criu's death.
func TestDumpKilled(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	for _, ph := range []struct{ name, mark string }{{"frozen", "tree frozen"}, {"pages", "incremental split"}} {
		t.Run(ph.name, func(t *testing.T) {
			pid, out := startBig(t)
			dir := t.TempDir()
			logf := filepath.Join(t.TempDir(), "dump.log")
			var worker []int
			mark := logHas(logf, ph.mark)
			cmd := exec.Command(crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir, "-o", logf, "-v4")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for !mark() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			worker = children(cmd.Process.Pid)
			cmd.Process.Kill()
			cmd.Wait()
			if len(worker) != 1 {
				t.Fatalf("criu has children %v, want its one worker", worker)
			}
			// The worker, now ours (we are a subreaper), undoes the dump.
			var ws unix.WaitStatus
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if got, _ := unix.Wait4(worker[0], &ws, unix.WNOHANG, nil); got == worker[0] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the worker still runs 10s after criu was killed")
				}
			}
			b, _ := os.ReadFile(logf)
			t.Logf("worker exited %d; log tail: %s", ws.ExitStatus(), b[max(0, len(b)-300):])
			if !ws.Exited() || ws.ExitStatus() != 128+int(syscall.SIGTERM) {
				t.Errorf("worker status %v, want exit %d", ws, 128+int(syscall.SIGTERM))
			}
			checkNoImages(t, dir)
			checkLetGo(t, pid, out)
		})
	}
}

// A dump whose log reader has gone (stderr a pipe closed at the other
// end: a closed ssh session, `criu dump ... | head`) is not killed by
// SIGPIPE halfway: it carries on and completes.
func TestDumpStderrClosed(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	pid, out := startBig(t)
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir, "-R", "-v4")
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	w.Close()
	if err != nil {
		t.Fatalf("criu dump with a closed stderr: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "inventory.img")); err != nil {
		t.Errorf("no complete images: %v", err)
	}
	checkLetGo(t, pid, out)
}

// cancelInFinish is a local dir whose first Finish behaves as a remote
// one that a signal reaches while it waits for the cache's ack: the
// signal comes, and the Finish fails if its context is cancelled.
type cancelInFinish struct {
	*image.Dir
	cancel func()
	done   bool
}

func (s *cancelInFinish) Finish(ctx context.Context) error {
	if !s.done {
		s.done = true
		s.cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("finish: no reply: %w", context.Cause(ctx))
		}
	}
	return s.Dir.Finish(ctx)
}

// A signal that comes while the Finish is under way does not cut it:
// the Finish and the dump succeed (the snapshot and the dump's outcome
// agree), and the tree is killed as after any complete dump.
func TestInterruptDuringFinish(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	pid, _ := startBig(t)
	dir := t.TempDir()
	d, err := image.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	inner := &cancelInFinish{Dir: d, cancel: func() { cancel(&interruptError{sig: syscall.SIGTERM}) }}
	s, _ := cmdstore.Wrap(ctx, inner)
	if _, err := dump.Dump(ctx, s, dump.Options{Pid: pid, ShellJob: true}); err != nil {
		t.Fatalf("dump with a signal during its Finish: %v", err)
	}
	crtest.Reap(pid)
	if crtest.Alive(pid) {
		t.Error("the dumped task runs on after a complete dump")
	}
	if _, err := os.Stat(filepath.Join(dir, "inventory.img")); err != nil {
		t.Errorf("no inventory.img: %v", err)
	}
}

// criu restore waiting for its restored tree (no -d) stops waiting on a
// signal, says the tree runs on, and leaves it running (as CRIU's death
// does); it used to swallow the signal and wait on.
func TestRestoreWaitInterrupted(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	pid, out := startBig(t)
	dir := t.TempDir()
	if res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir); err != nil {
		t.Fatalf("dump: %v\n%s", err, res)
	}
	crtest.Reap(pid)
	n := ticks(out)
	running := func() bool { return ticks(out) > n+3 }
	rc, stderr, took := signalAt(t, syscall.SIGTERM, running, "restore", "-D", dir)
	t.Logf("rc %d after %v: %s", rc, took, strings.TrimSpace(stderr))
	if rc != 128+int(syscall.SIGTERM) || !strings.Contains(stderr, "interrupted by SIGTERM: the restored tree (pid "+strconv.Itoa(pid)+") runs on") {
		t.Fatalf("criu restore exited %d: %s", rc, stderr)
	}
	checkLetGo(t, pid, out)
}
