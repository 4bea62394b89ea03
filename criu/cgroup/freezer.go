package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// A Freezer is a cgroup frozen for a dump (--freeze-cgroup, CRIU's
// freeze through the cgroup freezer): v1's freezer.state FROZEN or v2's
// cgroup.freeze 1, so that no task in it runs, forks or makes a thread
// while the dump seizes them all.
type Freezer struct {
	dir string
	v2  bool
}

// freezeTimeout bounds the wait for a cgroup to be frozen (a task in an
// uninterruptible sleep delays it).
const freezeTimeout = 10 * time.Second

// Freeze freezes the cgroup dir (a path under a freezer v1 or a v2
// hierarchy) and waits until every task in it is frozen.
func Freeze(dir string) (*Freezer, error) {
	f := &Freezer{dir: dir}
	if _, err := os.Stat(path.Join(dir, "freezer.state")); err != nil {
		if _, err2 := os.Stat(path.Join(dir, "cgroup.freeze")); err2 != nil {
			return nil, fmt.Errorf("--freeze-cgroup %s: neither freezer.state nor cgroup.freeze: %w", dir, err)
		}
		f.v2 = true
	}
	if err := f.set(true); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(freezeTimeout); ; time.Sleep(time.Millisecond) {
		frozen, err := f.frozen()
		if err != nil || frozen {
			if err != nil {
				f.Thaw()
			}
			return f, err
		}
		if !f.v2 {
			// v1 freezes the tasks it finds at the write: one forked
			// meanwhile keeps the cgroup FREEZING until written again.
			if err := f.set(true); err != nil {
				f.Thaw()
				return nil, err
			}
		}
		if time.Now().After(deadline) {
			f.Thaw()
			return nil, fmt.Errorf("--freeze-cgroup %s: not frozen after %v", dir, freezeTimeout)
		}
	}
}

func (f *Freezer) set(freeze bool) error {
	name, v := "freezer.state", "THAWED"
	if f.v2 {
		name, v = "cgroup.freeze", "0"
		if freeze {
			v = "1"
		}
	} else if freeze {
		v = "FROZEN"
	}
	if err := os.WriteFile(path.Join(f.dir, name), []byte(v), 0); err != nil {
		return fmt.Errorf("--freeze-cgroup: write %s to %s: %w", v, path.Join(f.dir, name), err)
	}
	return nil
}

func (f *Freezer) frozen() (bool, error) {
	if !f.v2 {
		b, err := os.ReadFile(path.Join(f.dir, "freezer.state"))
		return strings.TrimSpace(string(b)) == "FROZEN", err
	}
	b, err := os.ReadFile(path.Join(f.dir, "cgroup.events"))
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if sc.Text() == "frozen 1" {
			return true, nil
		}
	}
	return false, nil
}

// Thaw lets the cgroup's tasks run again.
func (f *Freezer) Thaw() error { return f.set(false) }

// Threads returns the tids of every thread in the cgroup and the
// cgroups below it.
func (f *Freezer) Threads() ([]int, error) {
	name := "tasks"
	if f.v2 {
		name = "cgroup.threads"
	}
	var out []int
	err := fs.WalkDir(os.DirFS(f.dir), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path.Join(f.dir, p, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		for _, l := range strings.Fields(string(b)) {
			tid, err := strconv.Atoi(l)
			if err != nil {
				return fmt.Errorf("%s: bad tid %q", path.Join(f.dir, p, name), l)
			}
			out = append(out, tid)
		}
		return nil
	})
	return out, err
}
