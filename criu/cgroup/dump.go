package cgroup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/proto/images"
)

// ImageName is the cgroup image's name.
const ImageName = "cgroup.img"

// CriuSet is the id of criu's own set at dump (the inventory's
// root_cg_set): tasks in it stay in the restorer's cgroups.
const CriuSet = 1

// A Dumper collects the sets of the tree's threads, then writes
// cgroup.img. Its methods are not safe for concurrent use.
type Dumper struct {
	opts   Options
	props  Props
	criu   string // key of criu's set
	sets   [][]member
	byKey  map[string]uint32
	mounts map[string]mount
	// nsRoot: per hierarchy, the root of the tree's cgroup namespace
	// (Namespace); empty without one.
	nsRoot map[string]string
}

// NewDumper reads criu's own set (set 1) and cgroup mounts.
func NewDumper(opts Options) (*Dumper, error) {
	d := &Dumper{opts: opts, props: opts.Props, byKey: map[string]uint32{}}
	if d.props == nil {
		d.props = DefaultProps()
	}
	ms, err := d.read("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("criu's cgroups: %w", err)
	}
	d.criu = key(ms)
	if d.mounts, err = hierarchies(opts.Yard); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dumper) read(p string) ([]member, error) {
	ms, err := readCgroupFile(p)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ms, func(m member) bool { return d.opts.skip(m.cnames) }), nil
}

func key(ms []member) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.name + ":" + m.path + "\n")
	}
	return b.String()
}

// Namespace records the roots of the cgroup namespace of task pid (the
// tree's own): the part of each of its cgroup paths that the task does
// not see, read from inside the namespace.
func (d *Dumper) Namespace(pid int) error {
	full, err := d.read(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return err
	}
	var rel []member
	if err := nsenter.Do(pid, nsenter.Cgroup, func() (err error) {
		rel, err = d.read(fmt.Sprintf("/proc/%d/cgroup", pid))
		return err
	}); err != nil {
		return fmt.Errorf("cgroup namespace of %d: %w", pid, err)
	}
	d.nsRoot = map[string]string{}
	for i, m := range full {
		if i >= len(rel) || rel[i].name != m.name || !strings.HasSuffix(m.path, strings.TrimSuffix(rel[i].path, "/")) {
			return fmt.Errorf("%w: cgroup namespace of %d: %s is %s inside it", ErrUnsupported, pid, m.path, rel[i].path)
		}
		d.nsRoot[m.name] = cleanPath(strings.TrimSuffix(m.path, strings.TrimSuffix(rel[i].path, "/")))
	}
	return nil
}

// Task returns the set of task pid, whose threads (tids, the leader
// first) must all be in its cgroups.
func (d *Dumper) Task(pid int, tids []int) (uint32, error) {
	var first string
	var ms []member
	for i, tid := range tids {
		m, err := d.read(fmt.Sprintf("/proc/%d/task/%d/cgroup", pid, tid))
		if err != nil {
			return 0, fmt.Errorf("cgroups of %d: %w", tid, err)
		}
		if i == 0 {
			first, ms = key(m), m
		} else if key(m) != first {
			return 0, fmt.Errorf("%w: thread %d of %d is in other cgroups than its leader", ErrUnsupported, tid, pid)
		}
	}
	if first == d.criu {
		return CriuSet, nil
	}
	if id, ok := d.byKey[first]; ok {
		return id, nil
	}
	d.sets = append(d.sets, ms)
	id := uint32(len(d.sets) + CriuSet)
	d.byKey[first] = id
	return id, nil
}

// Write writes cgroup.img with the sets of the tasks and their
// hierarchies' directories; nothing when every task is in criu's set.
func (d *Dumper) Write(ctx context.Context, s image.Store) error {
	if len(d.sets) == 0 {
		return nil
	}
	e := &images.CgroupEntry{}
	paths := map[string][]string{} // by hierarchy name
	cnames := map[string][]string{}
	var order []string
	for i, ms := range d.sets {
		se := &images.CgSetEntry{Id: proto.Uint32(uint32(i + CriuSet + 1))}
		for _, m := range ms {
			me := &images.CgMemberEntry{Name: proto.String(m.name), Path: proto.String(m.path)}
			if r := d.nsRoot[m.name]; r != "" && r != "/" {
				if !under(m.path, r) {
					return fmt.Errorf("dump cgroups: %w: cgroup %s:%s is outside the tree's cgroup namespace (%s)", ErrUnsupported, hierName(m.cnames), m.path, r)
				}
				me.CgnsPrefix = proto.Uint32(uint32(len(r)))
			}
			se.Ctls = append(se.Ctls, me)
			if _, ok := cnames[m.name]; !ok {
				order = append(order, m.name)
				cnames[m.name] = m.cnames
			}
			if !slices.Contains(paths[m.name], m.path) {
				paths[m.name] = append(paths[m.name], m.path)
			}
		}
		e.Sets = append(e.Sets, se)
	}
	for _, name := range order {
		ce, err := d.controller(cnames[name], paths[name])
		if err != nil {
			return fmt.Errorf("dump cgroups: %w", err)
		}
		e.Controllers = append(e.Controllers, ce)
	}
	return image.WriteImage(ctx, s, ImageName, e)
}

// tops returns the top directories of a hierarchy: root (which must be
// an ancestor of every path), or the paths below no other.
func tops(root string, paths []string) ([]string, error) {
	if root != "" {
		for _, p := range paths {
			if !under(p, root) {
				return nil, fmt.Errorf("--cgroup-root %s: a task's cgroup %s is not below it", root, p)
			}
		}
		return []string{root}, nil
	}
	var out []string
	for _, p := range paths {
		if !slices.ContainsFunc(paths, func(q string) bool { return q != p && under(p, q) }) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// under reports whether cgroup path p is q or below it.
func under(p, q string) bool {
	return p == q || q == "/" || strings.HasPrefix(p, q+"/")
}

func (d *Dumper) controller(cnames, paths []string) (*images.CgControllerEntry, error) {
	name := hierName(cnames)
	mnt, err := reach(d.mounts, cnames)
	if err != nil {
		return nil, err
	}
	ts, err := tops(d.opts.root(cnames), paths)
	if err != nil {
		return nil, err
	}
	ce := &images.CgControllerEntry{Cnames: cnames}
	for _, t := range ts {
		dir := mnt.dir(t)
		if dir == "" {
			return nil, fmt.Errorf("%w: cgroup %s:%s is outside criu's mount of it", ErrUnsupported, name, t)
		}
		de, err := d.dir(dir, strings.TrimPrefix(t, "/"), cnames)
		if err != nil {
			return nil, err
		}
		ce.Dirs = append(ce.Dirs, de)
	}
	return ce, nil
}

func perms(fi fs.FileInfo) *images.CgroupPerms {
	st := fi.Sys().(*syscall.Stat_t)
	return &images.CgroupPerms{Mode: proto.Uint32(st.Mode), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid)}
}

// dir saves the cgroup directory dir (named name in its parent) and
// every directory below it.
func (d *Dumper) dir(dir, name string, cnames []string) (*images.CgroupDirEntry, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	de := &images.CgroupDirEntry{DirName: proto.String(name), DirPerms: perms(fi)}
	for _, p := range d.props.of(cnames) {
		pfi, err := os.Stat(path.Join(dir, p))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		v := ""
		if !permsOnly[p] {
			if v, err = readProp(path.Join(dir, p)); err != nil {
				return nil, err
			}
		}
		de.Properties = append(de.Properties, &images.CgroupPropEntry{Name: proto.String(p), Value: proto.String(v), Perms: perms(pfi)})
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		ke, err := d.dir(path.Join(dir, e.Name()), e.Name(), cnames)
		if err != nil {
			return nil, err
		}
		de.Children = append(de.Children, ke)
	}
	return de, nil
}

// readProp reads a property as CRIU saves it: without the last newline;
// memory.oom_control as its oom_kill_disable value, the one writable.
func readProp(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(string(b), "\n")
	if path.Base(p) == "memory.oom_control" {
		for _, l := range strings.Split(v, "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "oom_kill_disable" {
				if _, err := strconv.Atoi(f[1]); err == nil {
					return f[1], nil
				}
			}
		}
		return "", fmt.Errorf("%s: no oom_kill_disable in %q", p, v)
	}
	return v, nil
}
