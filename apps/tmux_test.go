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
// of two windows: x:0 runs tmuxPane, x:1 an interactive bash running a
// foreground job.
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

// lastTick is the highest tick the pane x:0 shows, -1 for none.
func (s *tmuxServer) lastTick(ctx context.Context) int {
	s.t.Helper()
	n := -1
	for _, m := range tmuxTick.FindAllStringSubmatch(s.mustRun(ctx, "capture-pane", "-p", "-t", "x:0"), -1) {
		if v, _ := strconv.Atoi(m[1]); v > n {
			n = v
		}
	}
	return n
}

// waitPane polls the pane of window w until ok accepts its text.
func (s *tmuxServer) waitPane(ctx context.Context, w, what string, ok func(string) bool) {
	s.t.Helper()
	var text string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if text = s.mustRun(ctx, "capture-pane", "-p", "-t", w); ok(text) {
			return
		}
	}
	s.t.Fatalf("pane %s: no %s after 10s; it shows:\n%s", w, what, text)
}

// panePid is the pid of the process the pane of window w runs.
func (s *tmuxServer) panePid(ctx context.Context, w string) int {
	s.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(s.mustRun(ctx, "display-message", "-p", "-t", w, "#{pane_pid}")))
	if err != nil {
		s.t.Fatal(err)
	}
	return pid
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

// TestTmux dumps a tmux server (a session leader holding the masters of
// the ptys of its panes, whose shells are the session leaders of those
// ptys) with bin/criu, restores it, and checks that the first pane's
// counter goes on; that the second pane's interactive bash and its
// foreground job (a process group of its own, the terminal's foreground
// group) have their controlling terminal and foreground group back, so
// that ^C reaches the job and the shell then takes a command; that every
// pane's shell has its terminal as before; and that clients reach the
// server over its socket and their keys reach the pane.
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
	var tree []int // the server's tree as dumped
	t.Cleanup(func() {
		for _, pid := range append(tmuxTree(server), tree...) {
			crtest.Kill(pid)
		}
	})
	s.mustRun(ctx, "new-window", "-t", "x:1", "env PS1=sh$ bash --norc --noprofile -i")
	pane, shell := s.panePid(ctx, "x:0"), s.panePid(ctx, "x:1")
	s.waitPane(ctx, "x:0", "tick 3", func(p string) bool { return strings.Contains(p, "tick 3") })
	s.waitPane(ctx, "x:1", "a prompt", func(p string) bool { return strings.Contains(p, "sh$") })
	s.mustRun(ctx, "send-keys", "-t", "x:1", "sleep 1000", "Enter")
	// The job in the foreground: the terminal's group is not the shell's.
	var shellBefore string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		shellBefore = tmuxTTY(t, shell)
		if tpgid := strings.Fields(shellBefore)[7]; tpgid != strconv.Itoa(shell) && tpgid != "-1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell's job did not take the foreground: %s", shellBefore)
		}
	}
	// The job leads its group, the foreground one.
	job, err := strconv.Atoi(strings.Fields(shellBefore)[7])
	if err != nil {
		t.Fatal(err)
	}
	jobBefore := tmuxTTY(t, job)
	paneBefore := tmuxTTY(t, pane)
	for _, tty := range []string{paneBefore, shellBefore, jobBefore} {
		if !strings.Contains(tty, "fd0 /dev/pts/") || strings.Contains(tty, "tty_nr 0 ") {
			t.Fatalf("a pane's shell has no terminal: %s", tty)
		}
	}

	tree = tmuxTree(server)
	criu := crtest.Criu(t)
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(server), "-D", img, "-v4", "-o", filepath.Join(dir, "dump.log"))
	if err != nil {
		t.Fatalf("criu dump: %v\n%s", err, out)
	}
	// Killed by the dump: the panes and the job come to us, the
	// subreaper.
	tmuxReap(tree)
	if crtest.Alive(server) || crtest.Alive(pane) || crtest.Alive(shell) {
		t.Fatal("the server or a pane is still running after dump")
	}
	if out, err := s.run(ctx, "list-sessions"); err == nil {
		t.Fatalf("a server answers after dump: %s", out)
	}
	out, err = crtest.Run(ctx, criu, "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(dir, "restore.log"))
	if err != nil {
		t.Fatalf("criu restore: %v\n%s", err, out)
	}
	if !crtest.Alive(server) || !crtest.Alive(pane) || !crtest.Alive(shell) {
		t.Fatal("the server or a pane is not running after restore")
	}

	// The counter goes on from where it was.
	first := s.lastTick(ctx)
	if first < 3 {
		t.Fatalf("the restored pane shows tick %d, before the dump it showed tick 3 or more", first)
	}
	s.waitPane(ctx, "x:0", fmt.Sprintf("tick %d", first+2), func(p string) bool {
		for _, m := range tmuxTick.FindAllStringSubmatch(p, -1) {
			if v, _ := strconv.Atoi(m[1]); v >= first+2 {
				return true
			}
		}
		return false
	})
	if got := tmuxTTY(t, pane); got != paneBefore {
		t.Errorf("the counter pane's shell after restore: %s; before: %s", got, paneBefore)
	}
	if got := tmuxTTY(t, shell); got != shellBefore {
		t.Errorf("the interactive pane's shell after restore: %s; before: %s", got, shellBefore)
	}
	if got := tmuxTTY(t, job); got != jobBefore {
		t.Errorf("the shell's job after restore: %s; before: %s", got, jobBefore)
	}
	if ls := s.mustRun(ctx, "list-sessions"); !strings.HasPrefix(ls, "x: 2 windows") {
		t.Errorf("list-sessions: %q", ls)
	}
	s.mustRun(ctx, "send-keys", "-t", "x:0", "hello restored", "Enter")
	s.waitPane(ctx, "x:0", "got:hello restored", func(p string) bool { return strings.Contains(p, "got:hello restored") })
	// ^C goes to the terminal's foreground group: the job dies, and the
	// shell, back in the foreground, runs the next command.
	s.mustRun(ctx, "send-keys", "-t", "x:1", "C-c")
	s.mustRun(ctx, "send-keys", "-t", "x:1", "echo back-$((20+22))", "Enter")
	s.waitPane(ctx, "x:1", "back-42", func(p string) bool { return strings.Contains(p, "\nback-42") })
	s.mustRun(ctx, "kill-server")
	tmuxReap(tree)
}

// tmuxTree lists pid and its descendants, parents first.
func tmuxTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		b, _ := os.ReadFile(procfs.Path(out[i], fmt.Sprintf("task/%d/children", out[i])))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// tmuxReap reaps the tasks of a tree that died: they come to us, the
// subreaper, when the server dies.
func tmuxReap(pids []int) {
	for _, pid := range pids {
		crtest.Reap(pid)
	}
}
