package cgroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/image"
)

// pidsHier finds a pids hierarchy to test in: v1's, or the unified one
// with the pids controller enabled below its root.
func pidsHier(t *testing.T) (name string, m mount) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (makes cgroups)")
	}
	ms, err := hierarchies("")
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := ms["pids"]; ok {
		return "pids", m
	}
	if m, ok := ms[""]; ok {
		if b, _ := os.ReadFile(path.Join(m.point, "cgroup.subtree_control")); strings.Contains(string(b), "pids") {
			return "", m
		}
	}
	t.Skip("no pids controller")
	return
}

// sleeper starts a process in the cgroup dir and returns its pid.
func sleeper(t *testing.T, dir string) int {
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if dir != "" {
		if err := os.WriteFile(path.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
			t.Fatal(err)
		}
	}
	return cmd.Process.Pid
}

func cgroupOf(t *testing.T, pid int, hier string) string {
	ms, err := readCgroupFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.name == hier {
			return m.path
		}
	}
	t.Fatalf("%d: no %q hierarchy", pid, hier)
	return ""
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestDumpRestore saves a task in a cgroup of its own below another,
// with a pids.max, removes both, and checks each mode's restore: soft
// makes them again with the limit and moves a new task in; an existing
// cgroup keeps its limit in soft and gets the saved one in full; none
// and props need the cgroups, strict refuses them; --cgroup-root puts
// the task's cgroup elsewhere with its limit.
func TestDumpRestore(t *testing.T) {
	hier, m := pidsHier(t)
	top := fmt.Sprintf("/criugo-cgroup-test-%d", os.Getpid())
	cg := path.Join(top, "k")
	moved := top + "-moved"
	rm := func() {
		for _, p := range []string{cg, top, moved} {
			os.Remove(m.dir(p))
		}
	}
	rm()
	t.Cleanup(rm)
	if err := os.MkdirAll(m.dir(cg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.dir(cg)+"/pids.max", []byte("42"), 0); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir, err := image.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()

	pid := sleeper(t, m.dir(cg))
	d, err := NewDumper(Options{Roots: map[string]string{hier: top}})
	if err != nil {
		t.Fatal(err)
	}
	if set, err := d.Task(os.Getpid(), []int{os.Getpid()}); err != nil || set != CriuSet {
		t.Fatalf("criu's own set: %d, %v", set, err)
	}
	set, err := d.Task(pid, []int{pid})
	if err != nil || set == CriuSet {
		t.Fatalf("the task's set: %d, %v", set, err)
	}
	if err := d.Write(ctx, dir); err != nil {
		t.Fatal(err)
	}
	// Out of it, and both cgroups gone.
	if err := os.WriteFile(m.dir("/")+"/cgroup.procs", []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatal(err)
	}
	rm()

	log := zerolog.New(zerolog.NewTestWriter(t))
	prepare := func(o Options) (*Restorer, error) { return Prepare(ctx, dir, o, CriuSet, log) }
	if _, err := prepare(Options{Mode: None}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("none without the cgroups: %v", err)
	}
	r, err := prepare(Options{Mode: Soft})
	if err != nil {
		t.Fatal(err)
	}
	if v := readFile(t, m.dir(cg)+"/pids.max"); v != "42" {
		t.Errorf("soft made %s with pids.max %s, want 42", cg, v)
	}
	pid2 := sleeper(t, "")
	if err := r.Move(nil, false, pid2, set); err != nil {
		t.Fatal(err)
	}
	if got := cgroupOf(t, pid2, hier); got != cg {
		t.Errorf("moved into %s, want %s", got, cg)
	}
	if err := r.Move(nil, false, pid2, 99); !errors.Is(err, ErrBadImage) {
		t.Errorf("move into a set not in the image: %v", err)
	}
	if err := r.Move(nil, false, pid2, CriuSet); err != nil || cgroupOf(t, pid2, hier) != cg {
		t.Errorf("criu's set moved the task: %v", err)
	}

	os.WriteFile(m.dir(cg)+"/pids.max", []byte("7"), 0)
	if _, err := prepare(Options{Mode: Soft}); err != nil || readFile(t, m.dir(cg)+"/pids.max") != "7" {
		t.Errorf("soft changed an existing cgroup: %v", err)
	}
	if _, err := prepare(Options{Mode: Strict}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("strict with the cgroups there: %v", err)
	}
	if _, err := prepare(Options{Mode: Full}); err != nil || readFile(t, m.dir(cg)+"/pids.max") != "42" {
		t.Errorf("full left pids.max %s: %v", readFile(t, m.dir(cg)+"/pids.max"), err)
	}

	r, err = prepare(Options{Mode: Soft, Roots: map[string]string{hier: moved}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Move(nil, false, pid2, set); err != nil {
		t.Fatal(err)
	}
	if got, want := cgroupOf(t, pid2, hier), path.Join(moved, "k"); got != want {
		t.Errorf("with --cgroup-root: in %s, want %s", got, want)
	}
	if v := readFile(t, m.dir(moved)+"/k/pids.max"); v != "42" {
		t.Errorf("with --cgroup-root: pids.max %s, want 42", v)
	}
	os.WriteFile(m.dir("/")+"/cgroup.procs", []byte(strconv.Itoa(pid2)), 0)
	os.Remove(m.dir(moved) + "/k")

	if r, err := prepare(Options{Mode: Ignore}); r != nil || err != nil {
		t.Errorf("ignore: %v, %v", r, err)
	}
}

// TestUnified saves a task in a v2 cgroup of its own with a
// cgroup.max.depth, removes the cgroup, and checks that soft restore
// makes it again with the property and moves a task into it.
func TestUnified(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (makes cgroups)")
	}
	ms, err := hierarchies("")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := ms[""]
	if !ok {
		t.Skip("no cgroup2 mount")
	}
	own, err := readCgroupFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var base string
	for _, o := range own {
		if o.name == "" {
			base = o.path
		}
	}
	// A sibling of ours: on a v2-only host our own cgroup may hold
	// processes and so have no children with controllers.
	cg := path.Join(path.Dir(base), fmt.Sprintf("criugo-cgroup2-test-%d", os.Getpid()))
	if base == "/" {
		cg = fmt.Sprintf("/criugo-cgroup2-test-%d", os.Getpid())
	}
	t.Cleanup(func() { os.Remove(m.dir(cg)) })
	if err := os.Mkdir(m.dir(cg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.dir(cg)+"/cgroup.max.depth", []byte("3"), 0); err != nil {
		t.Fatal(err)
	}
	pid := sleeper(t, m.dir(cg))
	d, err := NewDumper(Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := d.Task(pid, []int{pid})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := image.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	ctx := context.Background()
	if err := d.Write(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.dir(base)+"/cgroup.procs", []byte(strconv.Itoa(pid)), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m.dir(cg)); err != nil {
		t.Fatal(err)
	}
	r, err := Prepare(ctx, dir, Options{}, CriuSet, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	if v := readFile(t, m.dir(cg)+"/cgroup.max.depth"); v != "3" {
		t.Errorf("cgroup.max.depth %s, want 3", v)
	}
	if err := r.Move(nil, false, pid, set); err != nil {
		t.Fatal(err)
	}
	if got := cgroupOf(t, pid, ""); got != cg {
		t.Errorf("moved into %s, want %s", got, cg)
	}
	os.WriteFile(m.dir(base)+"/cgroup.procs", []byte(strconv.Itoa(pid)), 0)
}
