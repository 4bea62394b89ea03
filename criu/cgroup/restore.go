package cgroup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// A Restorer puts restored tasks in their cgroups (Move). A nil
// Restorer moves nothing.
type Restorer struct {
	log  zerolog.Logger
	skip uint32
	// procs: the cgroup.procs files of each set's cgroups; nsProcs
	// those of the roots of the cgroup namespace its tasks were in.
	procs, nsProcs map[uint32][]string
}

// relocation is where a saved top directory of a hierarchy goes.
type relocation struct{ from, to string }

// Prepare reads cgroup.img and makes the cgroups as opts.Mode says;
// rootSet is the inventory's root_cg_set (criu's set at dump), whose
// tasks stay in the restorer's cgroups. Without an image, or in mode
// Ignore, it returns a nil Restorer.
func Prepare(ctx context.Context, s image.Store, opts Options, rootSet uint32, log zerolog.Logger) (*Restorer, error) {
	if opts.Mode == Ignore {
		return nil, nil
	}
	e := &images.CgroupEntry{}
	if err := image.ReadOne(ctx, s, ImageName, e); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("restore cgroups: %w", err)
	}
	mounts, err := hierarchies(opts.Yard)
	if err != nil {
		return nil, err
	}
	r := &Restorer{log: log, skip: rootSet, procs: map[uint32][]string{}, nsProcs: map[uint32][]string{}}
	moved := map[string][]relocation{}
	for _, ce := range e.GetControllers() {
		name := hierName(ce.GetCnames())
		mnt, err := reach(mounts, ce.GetCnames())
		if err != nil {
			return nil, fmt.Errorf("restore cgroups: %w", err)
		}
		for _, de := range ce.GetDirs() {
			from := cleanPath(de.GetDirName())
			to := from
			if root := opts.root(ce.GetCnames()); root != "" {
				to = root
			}
			if !checkName(de.GetDirName(), true) {
				return nil, fmt.Errorf("restore cgroups: %w: directory %q", ErrBadImage, de.GetDirName())
			}
			moved[name] = append(moved[name], relocation{from, to})
			if err := r.makeDir(mnt, name, to, de, opts.Mode, true); err != nil {
				return nil, fmt.Errorf("restore cgroups: %w", err)
			}
		}
	}
	for _, se := range e.GetSets() {
		for _, m := range se.GetCtls() {
			mnt, err := reach(mounts, strings.Split(m.GetName(), ","))
			if err != nil {
				return nil, fmt.Errorf("restore cgroups: set %d: %w", se.GetId(), err)
			}
			procs := func(p string) (string, error) {
				p = cleanPath(p)
				for _, rl := range moved[m.GetName()] {
					if under(p, rl.from) {
						p = path.Join(rl.to, strings.TrimPrefix(p, rl.from))
						break
					}
				}
				dir := mnt.dir(p)
				if dir == "" {
					return "", fmt.Errorf("restore cgroups: %w: cgroup %s:%s is outside criu's mount of it", ErrUnsupported, hierName([]string{m.GetName()}), p)
				}
				return path.Join(dir, "cgroup.procs"), nil
			}
			p, err := procs(m.GetPath())
			if err != nil {
				return nil, err
			}
			r.procs[se.GetId()] = append(r.procs[se.GetId()], p)
			if n := int(m.GetCgnsPrefix()); n > 0 {
				if n > len(m.GetPath()) {
					return nil, fmt.Errorf("restore cgroups: %w: cgns_prefix %d of %q", ErrBadImage, n, m.GetPath())
				}
				if p, err = procs(m.GetPath()[:n]); err != nil {
					return nil, err
				}
				r.nsProcs[se.GetId()] = append(r.nsProcs[se.GetId()], p)
			}
		}
	}
	return r, nil
}

// hierName names a hierarchy in messages: its controllers, cgroup2 for
// the unified one.
func hierName(cnames []string) string {
	if n := strings.Join(cnames, ","); n != "" {
		return n
	}
	return "cgroup2"
}

// checkName reports whether a saved directory name stays in its parent
// (a top one may have slashes, never "..").
func checkName(n string, top bool) bool {
	if n == "" {
		return top
	}
	for _, c := range strings.Split(n, "/") {
		if c == "" || c == "." || c == ".." || (!top && c != n) {
			return false
		}
	}
	return true
}

// makeDir makes the cgroup p of a hierarchy (saved as de) and those
// below it, as mode says.
func (r *Restorer) makeDir(mnt mount, hier, p string, de *images.CgroupDirEntry, mode Mode, top bool) error {
	dir := mnt.dir(p)
	if dir == "" {
		return fmt.Errorf("%w: cgroup %s:%s is outside criu's mount of it", ErrUnsupported, hier, p)
	}
	_, err := os.Stat(dir)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	case !exists && (mode == None || mode == PropsOnly):
		return fmt.Errorf("cgroup %s:%s does not exist (--manage-cgroups %s needs it)", hier, p, mode)
	case exists && mode == Strict && p != "/":
		return fmt.Errorf("cgroup %s:%s exists (--manage-cgroups strict)", hier, p)
	case !exists:
		mk := os.Mkdir
		if top {
			mk = os.MkdirAll
		}
		if err := mk(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s:%s: %w", hier, p, err)
		}
		if err := setPerms(dir, de.GetDirPerms()); err != nil {
			return err
		}
		r.log.Debug().Str("cgroup", hier+":"+p).Msg("cgroup created")
	}
	// The root cgroup's files are the host's: never written.
	if p != "/" && (mode == PropsOnly || mode == Full || mode == Strict || (mode == Soft && !exists)) {
		for _, pe := range de.GetProperties() {
			if err := writeProp(dir, pe, !exists); err != nil {
				return fmt.Errorf("cgroup %s:%s: %w", hier, p, err)
			}
		}
	}
	for _, ke := range de.GetChildren() {
		if !checkName(ke.GetDirName(), false) {
			return fmt.Errorf("%w: directory %q in %s:%s", ErrBadImage, ke.GetDirName(), hier, p)
		}
		if err := r.makeDir(mnt, hier, path.Join(p, ke.GetDirName()), ke, mode, false); err != nil {
			return err
		}
	}
	return nil
}

func setPerms(p string, pe *images.CgroupPerms) error {
	if pe == nil {
		return nil
	}
	if err := os.Chmod(p, fs.FileMode(pe.GetMode()&0o777)); err != nil {
		return err
	}
	return os.Lchown(p, int(pe.GetUid()), int(pe.GetGid()))
}

// writeProp writes one property (when it differs from the cgroup's),
// and its owner and mode in a created cgroup.
func writeProp(dir string, pe *images.CgroupPropEntry, created bool) error {
	name := pe.GetName()
	if strings.Contains(name, "/") || name == "" || name == ".." {
		return fmt.Errorf("%w: property %q", ErrBadImage, name)
	}
	p := path.Join(dir, name)
	if created {
		if err := setPerms(p, pe.GetPerms()); err != nil {
			return fmt.Errorf("property %s: %w", name, err)
		}
	}
	if permsOnly[name] {
		return nil
	}
	want := pe.GetValue()
	cur, err := readProp(p)
	if err != nil {
		return fmt.Errorf("property %s: %w", name, err)
	}
	if cur == want {
		return nil
	}
	var writes [][2]string
	switch name {
	case "devices.list":
		// Deny all, then allow each saved rule.
		writes = append(writes, [2]string{"devices.deny", "a"})
		for _, l := range strings.Split(want, "\n") {
			if l != "" {
				writes = append(writes, [2]string{"devices.allow", l})
			}
		}
	case "cgroup.subtree_control":
		var b []string
		for _, c := range strings.Fields(want) {
			b = append(b, "+"+c)
		}
		for _, c := range strings.Fields(cur) {
			if !strings.Contains(" "+want+" ", " "+c+" ") {
				b = append(b, "-"+c)
			}
		}
		writes = append(writes, [2]string{name, strings.Join(b, " ")})
	default:
		writes = append(writes, [2]string{name, want})
	}
	for _, w := range writes {
		if err := os.WriteFile(path.Join(dir, w[0]), []byte(w[1]), 0); err != nil {
			return fmt.Errorf("write %q to %s: %w", w[1], w[0], err)
		}
	}
	return nil
}

// Syscaller runs a system call in a stopped task (a ptrace.Injector).
type Syscaller interface {
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
}

// Move puts task pid (stopped, not yet running) into the cgroups of set
// (its thread_core.cg_set); set 0 (no set saved) and the restorer's set
// leave it where it is. With newNS (the root of a tree that had a
// cgroup namespace of its own), the task, run through in, first moves to
// the namespace's root cgroups (cgns_prefix) and makes a new cgroup
// namespace there (unshare), which its children are forked in.
func (r *Restorer) Move(in Syscaller, newNS bool, pid int, set uint32) error {
	if newNS {
		if err := r.move(pid, set, true); err != nil {
			return err
		}
		if _, err := in.Sys("unshare", unix.SYS_UNSHARE, unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("new cgroup namespace of %d: %w", pid, err)
		}
	}
	return r.move(pid, set, false)
}

func (r *Restorer) move(pid int, set uint32, nsRoot bool) error {
	if r == nil || set == 0 || set == r.skip {
		return nil
	}
	procs, ok := r.procs[set]
	if !ok {
		return fmt.Errorf("cgroups of %d: %w: no set %d", pid, ErrBadImage, set)
	}
	if nsRoot {
		procs = r.nsProcs[set]
	}
	for _, p := range procs {
		if err := os.WriteFile(p, []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move %d into %s: %w", pid, path.Dir(p), err)
		}
	}
	return nil
}
