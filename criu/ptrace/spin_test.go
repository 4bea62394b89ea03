package ptrace_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// startSpin starts testdata/spin.c, waits until it ticks and returns its
// pid and output file; it is killed and reaped when the test ends.
func startSpin(t *testing.T) (pid int, out string) {
	t.Helper()
	crtest.RequireRoot(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "spin.c"), false)
	out = filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Stdout = f
	err = cmd.Start()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	crtest.WaitFor(t, out, "tick 3\n", 5*time.Second)
	return cmd.Process.Pid, out
}
