package sockets_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestInFlightRefused: a message queued on a UNIX socket that carries
// what restore could not give back (a pty master or a locked file
// passed in flight with SCM_RIGHTS, the sender's SCM_CREDENTIALS; an
// epoll in flight is saved, package anonfd)
// fails the dump, naming the socket and the file; the task runs on with
// its message and the descriptor in it (testdata/scmrefuse.c receives
// them after the dump).
func TestInFlightRefused(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "scmrefuse.c"), false)
	for _, tc := range []struct{ mode, want string }{
		{"pty", "/dev/ptmx: unsupported: a terminal passed in flight (SCM_RIGHTS)"},
		{"flock", "(deleted): unsupported: a file passed in flight (SCM_RIGHTS) with a lock on it"},
		{"creds", "its queue: unsupported: queued messages carry their sender's credentials (SO_PASSCRED)"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready")
			cmd := crtest.Start(t, bin, tc.mode, ready)
			pid := cmd.Process.Pid
			t.Cleanup(func() { crtest.Kill(pid) })
			crtest.WaitFor(t, ready, "READY", 10*time.Second)
			dir := t.TempDir()
			out, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", dir)
			if err == nil {
				t.Fatalf("dump succeeded:\n%s", out)
			}
			if !strings.Contains(out, tc.want) || !strings.Contains(out, "(socket:[") {
				t.Fatalf("dump failed without naming the socket and %q:\n%s", tc.want, out)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("the failed dump left %d files in the images dir", len(ents))
			}
			if !crtest.Alive(pid) {
				t.Fatal("the task did not survive the failed dump")
			}
			if err := unix.Kill(pid, unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			crtest.WaitFor(t, ready, "OK", 10*time.Second)
		})
	}
}
