package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// TestDumpRefusesTasks dumps trees holding a task state that restore
// cannot make again, and checks that the dump fails naming it and that
// the tree runs on as it was: a task traced by another task (ptrace),
// and a task whose thread-group leader has exited while its other
// threads run (pthread_exit in main); CRIU 4.2 refuses both too ("Unable
// to interrupt task", "Zombies with threads are not supported"). A
// thread whose personality is not its task's (CRIU 4.2 restores the
// task's in every thread, silently). And a
// session whose leader has exited and was reaped, with members under two
// parents: restore gives such a session through one helper task with the
// leader's pid, which can fork the children of one parent only.
func TestDumpRefusesTasks(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "tasks_refused.c"), false)
	criu := crtest.Criu(t)
	for _, c := range []struct{ mode, want string }{
		{"traced", "is traced by"},
		{"deadleader", "its thread-group leader has exited while 2 other threads run on"},
		{"personality", "personality 0x40000 differs from its task's 0x0"},
		{"sessiontwo", "whose leader cannot give it its session at restore: it has exited, and members of its session have different parents"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			cmd := crtest.Start(t, bin, out, c.mode)
			pid := cmd.Process.Pid
			t.Cleanup(func() { crtest.Kill(pid) })
			crtest.WaitFor(t, out, "ready", 10*time.Second)
			var root, kid, tracer int
			b, _ := os.ReadFile(out)
			i := strings.Index(string(b), "ready ")
			if _, err := fmt.Sscanf(string(b[i:]), "ready %d %d %d", &root, &kid, &tracer); err != nil || root != pid {
				t.Fatalf("ready line: %v (%q)", err, b[i:])
			}
			other := tracer
			if c.mode == "sessiontwo" {
				tracer = 0 // the third is the session's member
			}
			// The root first: its children come to the test then (a
			// subreaper), to be killed and reaped.
			t.Cleanup(func() {
				crtest.Kill(pid)
				crtest.Kill(kid)
				if other != 0 {
					crtest.Kill(other)
				}
			})
			img := filepath.Join(dir, "img")
			if err := os.Mkdir(img, 0o755); err != nil {
				t.Fatal(err)
			}
			res, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-o", "dump.log")
			if err == nil || !strings.Contains(res, "unsupported") || !strings.Contains(res, c.want) {
				t.Fatalf("dump: %v, want it refused with %q:\n%s", err, c.want, res)
			}
			if c.mode == "traced" && !strings.Contains(res, "by "+strconv.Itoa(tracer)) {
				t.Errorf("the refusal does not name the tracer %d:\n%s", tracer, res)
			}
			// The tree runs on: nothing stopped, killed or left traced
			// by criu, and the ticking task ticks.
			for _, p := range []int{root, kid, tracer} {
				if p == 0 {
					continue
				}
				tids, err := procfs.Tasks(p)
				if err != nil {
					t.Fatalf("task %d after the refused dump: %v", p, err)
				}
				for _, tid := range tids {
					st, err := procfs.ReadStatusFile(procfs.Path(p, fmt.Sprintf("task/%d/status", tid)))
					if err != nil {
						t.Fatal(err)
					}
					want := "0"
					if p == kid && c.mode == "traced" {
						want = strconv.Itoa(tracer)
					}
					if st["TracerPid"] != want || strings.HasPrefix(st["State"], "T") || strings.HasPrefix(st["State"], "t") {
						t.Errorf("thread %d of %d after the refused dump: state %s, tracer %s (want %s)", tid, p, st["State"], st["TracerPid"], want)
					}
				}
			}
			n := crtest.Count(out, "tick ")
			crtest.WaitFor(t, out, "tick "+strconv.Itoa(n+10), 10*time.Second)
		})
	}
}
