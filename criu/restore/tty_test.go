package restore_test

import (
	"context"
	"os"
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
// would store it as it comes, or as the same lines in canonical mode. Not
// a line ended by EOF (^D), which the images have no mark for, nor in a
// raw mode where one of the bytes is now a special character (a ^C taken
// in while ISIG was off): the dump is refused, naming the pty and why,
// and the task still reads all of its input afterwards, the line ended
// as it was.
func TestDumpPtyUnreadInputRefused(t *testing.T) {
	for _, tc := range []struct {
		name, mode, ready, read string
		want                    []string
	}{
		{"eof", "eof", "ready 10\n", "read: typed line\n", []string{"a line of input to /dev/pts/", "not yet read was ended by EOF"}},
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

// A line typed into a pty in canonical mode and not yet read from its
// slave is read by the task after restore.
func TestPtyUnreadCanonicalInput(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "ptyinput.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "ready 11\n", 5*time.Second)
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	dumpCmd(t, pid, img)
	cmd.Wait()
	got := restoreCmd(t, img)
	defer crtest.Kill(got)
	// Again until it reads: a signal that comes before the restored
	// task is back in its pause (its loop checked the flag before the
	// dump) is handled and the pause then waits on.
	for i := 0; i < 50 && !strings.Contains(readFile(t, out), "read: "); i++ {
		syscall.Kill(got, syscall.SIGUSR1)
		time.Sleep(100 * time.Millisecond)
	}
	crtest.WaitFor(t, out, "read: typed line\n", 5*time.Second)
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
