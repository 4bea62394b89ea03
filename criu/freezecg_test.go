package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// TestFreezeCgroup dumps (leaving it running) a shell that forks without
// pause, with --freeze-cgroup on the cgroup it is in, in a v1 freezer
// and in a v2 cgroup: the dump holds the shell, the cgroup is thawed
// after, the shell still runs and is traced by no one, and so is a task
// of the cgroup outside the tree.
func TestFreezeCgroup(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	if _, err := dump.Dump(context.Background(), nil, dump.Options{Pid: os.Getpid(), FreezeCgroup: "/nonexistent"}); err == nil || !strings.Contains(err.Error(), "--freeze-cgroup /nonexistent") {
		t.Errorf("a missing cgroup: %v", err)
	}
	for _, c := range []struct{ name, hier, state string }{
		{"v1", "/sys/fs/cgroup/freezer", "freezer.state"},
		{"v2", "/sys/fs/cgroup/unified", "cgroup.freeze"},
		{"v2-only", "/sys/fs/cgroup", "cgroup.freeze"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(c.hier, "cgroup.procs")); err != nil {
				t.Skip("no such hierarchy")
			}
			dir := filepath.Join(c.hier, fmt.Sprintf("criugo-freeze-test-%d", os.Getpid()))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			defer func() {
				// Its tasks gone (killed below), the cgroup can go.
				for i := 0; i < 200 && os.Remove(dir) != nil; i++ {
					time.Sleep(10 * time.Millisecond)
				}
			}()
			if _, err := os.Stat(filepath.Join(dir, c.state)); err != nil {
				t.Skip("no freezer here")
			}
			start := func(script string) *exec.Cmd {
				cmd := exec.Command("sh", "-c", script)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
					t.Fatal(err)
				}
				return cmd
			}
			// Subshells fork (dash runs /bin/true with vfork, and a
			// vfork parent caught with its child is refused).
			tree := start("while :; do ( : ); done")
			other := start("exec sleep 100")
			defer func() {
				for _, cmd := range []*exec.Cmd{tree, other} {
					cmd.Process.Kill()
					cmd.Wait()
				}
			}()
			time.Sleep(50 * time.Millisecond)
			d, err := image.NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var logs bytes.Buffer
			log := zerolog.New(&logs).Level(zerolog.DebugLevel)
			if _, err := dump.Dump(context.Background(), d, dump.Options{Pid: tree.Process.Pid, LeaveRunning: true, ShellJob: true, FreezeCgroup: dir, Log: log}); err != nil {
				t.Fatal(err)
			}
			// Both tasks of the cgroup were seized while it was frozen.
			seized := false
			for _, l := range strings.Split(logs.String(), "\n") {
				seized = seized || strings.Contains(l, `"message":"seized in the frozen cgroup"`) &&
					(strings.Contains(l, `"threads":2,`) || strings.Contains(l, `"threads":3,`))
			}
			if !seized {
				t.Errorf("no seize in the frozen cgroup:\n%s", logs.String())
			}
			msgs, err := image.ReadAll(context.Background(), d, "pstree.img", func() proto.Message { return &images.PstreeEntry{} })
			if err != nil || len(msgs) == 0 || msgs[0].(*images.PstreeEntry).GetPid() != uint32(tree.Process.Pid) {
				t.Fatalf("pstree %v, %v", msgs, err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, c.state))
			if s := strings.TrimSpace(string(b)); s != "THAWED" && s != "0" {
				t.Errorf("%s is %s after the dump", c.state, s)
			}
			for _, cmd := range []*exec.Cmd{tree, other} {
				st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(st), "TracerPid:\t0\n") || strings.Contains(string(st), "State:\tt") {
					t.Errorf("%d after the dump:\n%s", cmd.Process.Pid, st)
				}
			}
		})
	}
}
