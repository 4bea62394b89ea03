package restore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// stateBlocks returns the STATE..END blocks creds.c wrote to file.
func stateBlocks(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, blk := range strings.Split(string(b), "STATE\n")[1:] {
		blk, _, ok := strings.Cut(blk, "END\n")
		if ok {
			out = append(out, blk)
		}
	}
	return out
}

// TestCredsAndTaskState dumps and restores (with the criu command) a task
// that gave itself non-root uids/gids and groups, a mix of capabilities in
// all five sets, securebits, no_new_privs, a personality, SCHED_BATCH at
// nice 5, a parent-death signal, dumpable 0, THP disabled, a umask and
// lowered rlimits; the task's own view of all of it must be the same
// before dump and after restore.
func TestCredsAndTaskState(t *testing.T) {
	setup(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "creds.c"), false)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "READY", 5*time.Second)
	before := stateBlocks(t, out)
	if len(before) != 1 {
		t.Fatalf("%d state blocks before dump", len(before))
	}
	img := filepath.Join(dir, "img")
	os.Mkdir(img, 0o755)
	dumpCmd(t, pid, img)
	cmd.Wait()
	if got := restoreCmd(t, img); got != pid {
		t.Fatalf("restored pid %d, want %d", got, pid)
	}
	unix.Kill(pid, unix.SIGUSR2)
	deadline := time.Now().Add(5 * time.Second)
	for len(stateBlocks(t, out)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	after := stateBlocks(t, out)
	if len(after) < 2 {
		t.Fatal("no state after restore")
	}
	// Without --shell-job, a session leader (crtest.Start runs setsid)
	// is restored as the leader of a session with its own id.
	if st, err := procfs.ReadStat(pid); err != nil || st.Session != pid || st.Pgrp != pid {
		t.Errorf("restored sid %d pgid %d, want %d (%v)", st.Session, st.Pgrp, pid, err)
	}
	if before[0] != after[1] {
		t.Errorf("state differs:\nbefore dump:\n%s\nafter restore:\n%s", before[0], after[1])
	}
}
