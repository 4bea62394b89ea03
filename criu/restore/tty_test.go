package restore_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// Input typed into a pty (written to its master) and not yet read from
// its slave cannot be put back as it was (it would go through the line
// discipline a second time): the dump is refused, naming the pty, and the
// task still reads its line afterwards.
func TestDumpPtyUnreadInputRefused(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "ptyinput.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready 11\n", 5*time.Second)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir)
	if err == nil {
		t.Fatalf("dump of a pty with unread input succeeded:\n%s", res)
	}
	for _, w := range []string{"11 bytes of input to /dev/pts/", "not yet read"} {
		if !strings.Contains(res, w) {
			t.Errorf("error does not say %q:\n%s", w, res)
		}
	}
	t.Logf("%s", strings.TrimSpace(res))
	if !crtest.Alive(pid) {
		t.Fatal("the task died")
	}
	syscall.Kill(pid, syscall.SIGUSR1)
	crtest.WaitFor(t, out, "read: typed line\n", 5*time.Second)
}
