package apps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestTmuxPaneShell dumps the interactive bash of a tmux pane by its pid
// (its terminal, the pane's pty, is the tmux server's, outside the tree):
// refused without --external, naming the key; dumped with --external
// tty[RDEV:DEV]; restored in another window by `criu restore
// --inherit-fd fd[0]:tty[RDEV:DEV]` run there, so that the shell takes
// that window's terminal over as its controlling terminal: it keeps its
// variables, answers on its new terminal, and its exit ends the restore
// with its status, as CRIU 4.2 does for the same commands.
func TestTmuxPaneShell(t *testing.T) {
	crtest.RequireRoot(t)
	bin, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("needs tmux (Debian's tmux; .ci/run installs it)")
	}
	crtest.Subreaper(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	s := &tmuxServer{t: t, bin: bin, sock: filepath.Join(dir, "sock")}
	client := crtest.Start(t, bin, "-S", s.sock, "-f", "/dev/null", "new-session", "-d", "-s", "x", "-x", "80", "-y", "24", "env PS1=sh$ bash --norc --noprofile -i")
	if err := client.Wait(); err != nil {
		t.Fatalf("tmux new-session: %v", err)
	}
	server, err := strconv.Atoi(strings.TrimSpace(s.mustRun(ctx, "display-message", "-p", "-t", "x", "#{pid}")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.run(context.Background(), "kill-server")
		for _, pid := range tmuxTree(server) {
			crtest.Kill(pid)
		}
	})
	// Keeps the server up once the dump ended the shell's window.
	s.mustRun(ctx, "new-window", "-d", "-t", "x:9", "sleep 1000")
	shell := s.panePid(ctx, "x:0")
	s.waitPane(ctx, "x:0", "a prompt", func(p string) bool { return strings.Contains(p, "sh$") })
	s.mustRun(ctx, "send-keys", "-t", "x:0", "X=kept-$((6*7))", "Enter")
	s.waitPane(ctx, "x:0", "a second prompt", func(p string) bool { return strings.Count(p, "sh$") >= 2 })
	var st unix.Stat_t
	if err := unix.Stat(strings.TrimSpace(s.mustRun(ctx, "display-message", "-p", "-t", "x:0", "#{pane_tty}")), &st); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("tty[%x:%x]", st.Rdev, st.Dev)

	criu := crtest.Criu(t)
	out, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(shell), "-D", t.TempDir())
	if err == nil || !strings.Contains(out, "--external "+key) {
		t.Fatalf("dump of the pane's shell without --external: %v, want a refusal naming --external %s:\n%s", err, key, out)
	}
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(shell), "-D", img, "-v4", "-o", filepath.Join(dir, "dump.log"), "--external", key); err != nil {
		t.Fatalf("criu dump --external %s: %v\n%s", key, err, out)
	}
	for deadline := time.Now().Add(5 * time.Second); crtest.Alive(shell); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shell still runs after the dump")
		}
	}

	restore := fmt.Sprintf("%s restore -D %s -v4 -o %s --inherit-fd 'fd[0]:%s'; echo restore-rc-$?; sleep 1000", criu, img, filepath.Join(dir, "restore.log"), key)
	s.mustRun(ctx, "new-window", "-t", "x:1", restore)
	s.waitPane(ctx, "x:1", "the restored shell", func(p string) bool { return crtest.Alive(shell) })
	newTTY := strings.TrimSpace(s.mustRun(ctx, "display-message", "-p", "-t", "x:1", "#{pane_tty}"))
	s.mustRun(ctx, "send-keys", "-t", "x:1", `echo "$X on $(tty) sid $(cut -d' ' -f6 /proc/$$/stat)"`, "Enter")
	want := fmt.Sprintf("kept-42 on %s sid %d", newTTY, shell)
	s.waitPane(ctx, "x:1", want, func(p string) bool { return strings.Contains(strings.Join(strings.Fields(p), " "), want) })
	if got := tmuxTTY(t, shell); !strings.Contains(got, fmt.Sprintf("session %d ", shell)) || !strings.HasSuffix(got, "fd0 "+newTTY) || strings.Contains(got, "tty_nr 0 ") {
		t.Errorf("the restored shell: %s, want its session %d with the terminal %s", got, shell, newTTY)
	}
	s.mustRun(ctx, "send-keys", "-t", "x:1", "exit 7", "Enter")
	s.waitPane(ctx, "x:1", "restore-rc-7", func(p string) bool { return strings.Contains(p, "restore-rc-7") })
}
