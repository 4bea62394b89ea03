// Package nstest starts processes in fresh namespaces for tests of the
// packages that save and restore namespace state.
package nstest

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
)

// Start starts a process that sleeps in new namespaces of the types in
// flags (CLONE_NEW* bits) and returns its pid. It skips t unless it runs
// as root. The process is killed and reaped when t ends.
func Start(t testing.TB, flags uintptr) int {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN for new namespaces and setns)")
	}
	// bash closes every fd above 2 that the test process may have
	// inherited without close-on-exec.
	cmd := exec.Command("/bin/bash", "-c", `for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; exec sleep 100000`)
	// No Pdeathsig: it follows the thread that forked, and threads
	// that joined other namespaces are ended by design.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process in new namespaces: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// Dir returns an image store in a temporary directory of t.
func Dir(t testing.TB) *image.Dir {
	t.Helper()
	d, err := image.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Main runs the tests of m and fails the run if they leave file
// descriptors open; call it from TestMain.
func Main(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }
