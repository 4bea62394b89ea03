// Package crtest holds helpers for tests that dump and restore real
// processes: privilege checks, a subreaper, gcc-built workloads and the
// criu binary; and the fd-leak check that every package whose tests
// open fds runs from its TestMain (RunWithFdCheck).
package crtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RequireRoot skips t unless it runs as root with gcc available.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_PTRACE, CAP_CHECKPOINT_RESTORE)")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc")
	}
}

var subreaperOnce sync.Once

// Subreaper makes this test process a child subreaper, so that tasks
// orphaned by `criu restore -d` come to us and can be reaped (PID 1 on
// these machines reaps nothing, and a zombie keeps its pid).
func Subreaper(t testing.TB) {
	t.Helper()
	subreaperOnce.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
		}
	})
}

// Reap waits for pid (a child or an orphan handed to us) if it is ours.
func Reap(pid int) {
	var ws unix.WaitStatus
	for i := 0; i < 100; i++ {
		got, err := unix.Wait4(pid, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil || got == pid {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills pid and reaps it.
func Kill(pid int) {
	unix.Kill(pid, unix.SIGKILL)
	Reap(pid)
}

// SourceDir is the directory of the calling test's package testdata.
func SourceDir() string {
	_, file, _, _ := runtime.Caller(1)
	return filepath.Join(filepath.Dir(file), "testdata")
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// BuildC compiles a C file with gcc (-pthread, and -static if static)
// once per test binary and returns the executable.
func BuildC(t testing.TB, src string, static bool) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := src + map[bool]string{true: ":static", false: ""}[static]
	if p, ok := built[key]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "crtest-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c"))
	args := []string{"-O1", "-pthread", "-o", out, src}
	if static {
		args = append([]string{"-static"}, args...)
	}
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, b)
	}
	built[key] = out
	return out
}

var (
	criuOnce sync.Once
	criuPath string
	criuErr  error
)

// Criu builds the criu command (./criu of this module) once and returns it.
func Criu(t testing.TB) string {
	t.Helper()
	criuOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crtest-criu-")
		if err != nil {
			criuErr = err
			return
		}
		criuPath = filepath.Join(dir, "criu")
		cmd := exec.Command("go", "build", "-o", criuPath, "github.com/criugo/criu/criu")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build does
		if b, err := cmd.CombinedOutput(); err != nil {
			criuErr = &buildError{err, string(b)}
		}
	})
	if criuErr != nil {
		t.Fatalf("build criu: %v", criuErr)
	}
	return criuPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// Start runs a workload in its own session with stdio on /dev/null and
// only fds 0-2 open. The caller reaps it (Kill, or cmd.Wait after dump).
func Start(t testing.TB, bin string, args ...string) *exec.Cmd {
	t.Helper()
	// Only 0-2 must reach the workload: an fd inherited by the test
	// binary itself (a CI's pipe) would make dump refuse the task.
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// WaitFor polls file until it contains s, or fails t after timeout.
func WaitFor(t testing.TB, file, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(file)
		if bytes.Contains(b, []byte(s)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(file)
	t.Fatalf("%s: no %q after %v; it holds:\n%s", file, s, timeout, tail(b))
}

// Verdict polls a workload's output file until it holds want (its PASS
// line), failing t at once, with the file's text, when it reports FAIL,
// or after timeout.
func Verdict(t testing.TB, file, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(file)
		if bytes.Contains(b, []byte("FAIL")) {
			// Let the workload finish writing its reasons.
			time.Sleep(100 * time.Millisecond)
			b, _ = os.ReadFile(file)
			t.Fatalf("workload reports FAIL:\n%s", tail(b))
		}
		if bytes.Contains(b, []byte(want)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(file)
	t.Fatalf("%s: no verdict (%q) after %v; it holds:\n%s", file, want, timeout, tail(b))
}

// Count counts occurrences of s in file.
func Count(file, s string) int {
	b, _ := os.ReadFile(file)
	return bytes.Count(b, []byte(s))
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Run runs the criu binary with args and returns its combined output.
func Run(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// CRIU42 is the path of the reference CRIU 4.2 that tests compare with:
// $CRIU42 (.ci/run sets it), else ../shared/tools/criu-4.2/criu beside
// this repository. The tests check that it exists and runs.
func CRIU42() string {
	if p := os.Getenv("CRIU42"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "tools", "criu-4.2", "criu")
}
