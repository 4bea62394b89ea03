package apps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// tmuxServer is a tmux server on the socket sock, with one session "x"
// whose pane runs tmuxPane.
type tmuxServer struct {
	t    *testing.T
	bin  string
	sock string
}

// tmuxPane counts, one line a tick, and echoes each line it reads from
// its terminal: its terminal's input and output both show in the pane.
const tmuxPane = `i=0
while :; do
	i=$((i+1))
	echo "tick $i"
	if read -r -t 0.3 line; then echo "got:$line"; fi
done
`

// run runs a tmux client command against the server and returns its
// output.
func (s *tmuxServer) run(ctx context.Context, args ...string) (string, error) {
	args = append([]string{"-S", s.sock}, args...)
	b, err := exec.CommandContext(ctx, s.bin, args...).CombinedOutput()
	return string(b), err
}

func (s *tmuxServer) mustRun(ctx context.Context, args ...string) string {
	s.t.Helper()
	out, err := s.run(ctx, args...)
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return out
}

var tmuxTick = regexp.MustCompile(`(?m)^tick (\d+)$`)

// lastTick is the highest tick the pane shows, -1 for none.
func (s *tmuxServer) lastTick(ctx context.Context) int {
	s.t.Helper()
	n := -1
	for _, m := range tmuxTick.FindAllStringSubmatch(s.mustRun(ctx, "capture-pane", "-p", "-t", "x"), -1) {
		if v, _ := strconv.Atoi(m[1]); v > n {
			n = v
		}
	}
	return n
}

// waitPane polls the pane until ok accepts its text.
func (s *tmuxServer) waitPane(ctx context.Context, what string, ok func(string) bool) {
	s.t.Helper()
	var text string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if text = s.mustRun(ctx, "capture-pane", "-p", "-t", "x"); ok(text) {
			return
		}
	}
	s.t.Fatalf("pane: no %s after 10s; it shows:\n%s", what, text)
}

// tmuxTTY is what a task's controlling terminal is: tty_nr and the
// terminal's foreground group (tpgid) of its stat, and its fd 0.
func tmuxTTY(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(procfs.Path(pid, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	fd0, err := os.Readlink(procfs.Path(pid, "fd/0"))
	if err != nil {
		t.Fatal(err)
	}
	// state ppid pgrp session tty_nr tpgid
	return fmt.Sprintf("pgrp %s session %s tty_nr %s tpgid %s fd0 %s", f[2], f[3], f[4], f[5], fd0)
}

// TestTmux dumps a tmux server (a session leader holding the master of
// the pty of its pane, whose shell is the session leader of that pty)
// with bin/criu, restores it, and checks that the pane's counter goes
// on, that the pane's shell has its controlling terminal and foreground
// group back, and that clients reach the server over its socket and
// their keys reach the pane.
func TestTmux(t *testing.T) {
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
	script := filepath.Join(dir, "pane.sh")
	if err := os.WriteFile(script, []byte(tmuxPane), 0o644); err != nil {
		t.Fatal(err)
	}
	// The client forks the server, which it leaves behind (our child
	// then, as a subreaper): only fds 0-2 must reach it.
	client := crtest.Start(t, bin, "-S", s.sock, "-f", "/dev/null", "new-session", "-d", "-s", "x", "-x", "80", "-y", "24", "bash "+script)
	if err := client.Wait(); err != nil {
		t.Fatalf("tmux new-session: %v", err)
	}
	server, err := strconv.Atoi(strings.TrimSpace(s.mustRun(ctx, "display-message", "-p", "-t", "x", "#{pid}")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crtest.Kill(server) })
	pane, err := strconv.Atoi(strings.TrimSpace(s.mustRun(ctx, "display-message", "-p", "-t", "x", "#{pane_pid}")))
	if err != nil {
		t.Fatal(err)
	}
	s.waitPane(ctx, "tick 3", func(p string) bool { return strings.Contains(p, "tick 3") })
	ttyBefore := tmuxTTY(t, pane)
	if !strings.Contains(ttyBefore, "fd0 /dev/pts/") || strings.Contains(ttyBefore, "tty_nr 0 ") {
		t.Fatalf("the pane's shell has no terminal: %s", ttyBefore)
	}

	criu := crtest.Criu(t)
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(server), "-D", img, "-v4", "-o", filepath.Join(dir, "dump.log"))
	if err != nil {
		t.Fatalf("criu dump: %v\n%s", err, out)
	}
	// Killed by the dump: the pane comes to us, the subreaper.
	crtest.Reap(server)
	crtest.Reap(pane)
	if crtest.Alive(server) || crtest.Alive(pane) {
		t.Fatal("the server or its pane is still running after dump")
	}
	if out, err := s.run(ctx, "list-sessions"); err == nil {
		t.Fatalf("a server answers after dump: %s", out)
	}
	out, err = crtest.Run(ctx, criu, "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(dir, "restore.log"))
	if err != nil {
		t.Fatalf("criu restore: %v\n%s", err, out)
	}
	if !crtest.Alive(server) || !crtest.Alive(pane) {
		t.Fatal("server or pane not running after restore")
	}

	// The counter goes on from where it was.
	first := s.lastTick(ctx)
	if first < 3 {
		t.Fatalf("the restored pane shows tick %d, before the dump it showed tick 3 or more", first)
	}
	s.waitPane(ctx, fmt.Sprintf("tick after %d", first+2), func(p string) bool {
		for _, m := range tmuxTick.FindAllStringSubmatch(p, -1) {
			if v, _ := strconv.Atoi(m[1]); v >= first+2 {
				return true
			}
		}
		return false
	})
	if got := tmuxTTY(t, pane); got != ttyBefore {
		t.Errorf("the pane's shell after restore: %s; before: %s", got, ttyBefore)
	}
	if ls := s.mustRun(ctx, "list-sessions"); !strings.HasPrefix(ls, "x: 1 windows") {
		t.Errorf("list-sessions: %q", ls)
	}
	s.mustRun(ctx, "send-keys", "-t", "x", "hello restored", "Enter")
	s.waitPane(ctx, "got:hello restored", func(p string) bool { return strings.Contains(p, "got:hello restored") })
	s.mustRun(ctx, "kill-server")
	crtest.Reap(server)
	crtest.Reap(pane)
}
