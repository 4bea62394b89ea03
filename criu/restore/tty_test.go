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
// its slave is put back as it was only when the slave's line discipline
// would store it as it comes. In canonical mode it would not (echoed and
// edited again), nor in a raw mode where one of the bytes is now a
// special character (a ^C taken in while ISIG was off): the dump is
// refused, naming the pty and why, and the task still reads all of its
// input afterwards.
func TestDumpPtyUnreadInputRefused(t *testing.T) {
	for _, tc := range []struct {
		name, mode, ready, read string
		want                    []string
	}{
		{"canonical", "", "ready 11\n", "read: typed line\n", []string{"11 bytes of input to /dev/pts/", "not yet read", "canonical mode"}},
		{"special", "raw", "ready 10\n", "read: typed^Cline\n", []string{"10 bytes of input to /dev/pts/", "not yet read", "0x3, the tty's VINTR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setup(t)
			bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "ptyinput.c"), false)
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(t, bin, out, tc.mode)
			pid := cmd.Process.Pid
			defer crtest.Kill(pid)
			crtest.WaitFor(t, out, tc.ready, 5*time.Second)
			res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", dir)
			if err == nil {
				t.Fatalf("dump of a pty with unread input succeeded:\n%s", res)
			}
			for _, w := range tc.want {
				if !strings.Contains(res, w) {
					t.Errorf("error does not say %q:\n%s", w, res)
				}
			}
			t.Logf("%s", strings.TrimSpace(res))
			if !crtest.Alive(pid) {
				t.Fatal("the task died")
			}
			syscall.Kill(pid, syscall.SIGUSR1)
			crtest.WaitFor(t, out, tc.read, 5*time.Second)
		})
	}
}
