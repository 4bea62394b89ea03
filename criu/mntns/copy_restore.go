package mntns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mntns/mpath"
	"github.com/criugo/criu/criu/mntns/tmpfs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Copy is a mount namespace that was a copy of criu's, made again in
// the root task's new copy of criu's where the two differ (copy.go).
type Copy struct {
	l *Layout // the image's mounts, parents first; no --root
}

// LoadCopy reads mountpoints-ID.img of a root task in a mount namespace
// of its own (own) that was a copy of criu's (Load gave no Layout for
// it): nil without one, for images without it, or of a namespace whose
// root is not criu's root.
func LoadCopy(ctx context.Context, store image.Store, own bool, id uint32, log zerolog.Logger) (*Copy, error) {
	if !own {
		return nil, nil
	}
	ms, err := readMounts(ctx, store, id)
	if err != nil || len(ms) == 0 || !copyOfMine(ms[0]) || ms[0].GetMountpoint() != "/" {
		return nil, err
	}
	return &Copy{l: &Layout{store: store, mounts: ms, log: log, archive: map[uint32]bool{}}}, nil
}

// PtyMasters are the pty masters Make opened (none for a nil Copy).
func (c *Copy) PtyMasters() []int {
	if c == nil {
		return nil
	}
	return c.l.PtyMasters()
}

// Make makes the mount namespace of the root task pid, a new copy of
// criu's, the one the image has, with system calls injected into the
// task (sys): nothing when they do not differ; otherwise the copy's
// mounts are made slaves (slaveAll: nothing done in it reaches criu's), the mounts the tree
// had unmounted are detached, the mounts it had made are made as a
// container's are (makeOne: through their parents' fds, a tmpfs filled
// from its archive), then flags, peer groups and masters (a group of
// criu's joined from criu's mount, through /proc/CRIU/root) and
// unbindable are set on every mount, and the result is compared with
// the image: a restore that did not make it exactly fails, naming the
// mount. A nil Copy makes nothing.
func (c *Copy) Make(ctx context.Context, pid int, sys Syscall) (err error) {
	if c == nil {
		return nil
	}
	l := c.l
	p, crius, err := c.plan(pid, nil)
	if err != nil || p.empty() {
		return err
	}
	if _, ok := p.match[0]; !ok {
		return fmt.Errorf("the root mount of the task's namespace is not criu's root")
	}
	k, err := l.session(pid, sys)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := k.end(); err == nil {
			err = uerr
		}
	}()
	// Before anything changes: criu's temporary directory and the
	// mounts of criu's the peer groups are joined from.
	if k.tmp, err = k.open(os.TempDir()); err != nil {
		return err
	}
	defer k.t.Syscall("close", unix.SYS_CLOSE, uint64(k.tmp))
	from := map[int]*images.MntEntry{} // index in crius
	source := func(g int, w mnt) (*images.MntEntry, error) {
		j := groupSource(crius, g, w.dev, w.root)
		if j < 0 {
			return nil, fmt.Errorf("%s: no uncovered mount of criu's namespace is in its peer group %d", w.name(), g)
		}
		if from[j] == nil {
			fd, err := k.open(fmt.Sprintf("/proc/%d/root%s", os.Getpid(), crius[j].point))
			if err != nil {
				return nil, err
			}
			from[j] = &images.MntEntry{Mountpoint: proto.String("criu's " + crius[j].point)}
			k.fds[from[j]] = fd
		}
		return from[j], nil
	}
	for i, w := range p.want {
		for _, g := range []int{w.shared, w.master} {
			if !p.ignored[i] && p.groups[g] {
				if _, err := source(g, w); err != nil {
					return err
				}
			}
		}
	}
	self := procfs.Path(pid, "root")
	reach := func(h mnt) bool {
		top, ok := mpath.TopMount(self, procfs.MountInfo{Point: h.point})
		return ok && top == h.id
	}
	for _, j := range p.slaveAll(reach) {
		if err := k.mount("", p.have[j].point, "", unix.MS_SLAVE, ""); err != nil {
			return fmt.Errorf("%s: slave: %w", p.have[j].name(), err)
		}
	}
	for n := len(p.remove) - 1; n >= 0; n-- {
		h := p.have[p.remove[n]]
		if !reach(h) {
			return fmt.Errorf("%s of the copy of criu's namespace, which the tree had unmounted: covered", h.name())
		}
		if err := k.path1("umount2", unix.SYS_UMOUNT2, h.point, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("%s, which the tree had unmounted: %w", h.name(), err)
		}
	}
	made := []*images.MntEntry{}
	for i, m := range l.mounts {
		j, ok := p.match[i]
		if !ok || p.ignored[i] {
			continue
		}
		if !reach(p.have[j]) {
			continue // covered: reached by no fd
		}
		fd, err := k.open(m.GetMountpoint())
		if err != nil {
			return err
		}
		k.fds[m] = fd
		made = append(made, m)
	}
	// The devices of the filesystems made anew (and of binds of them):
	// the image's, the made ones', for check.
	devs := map[uint32]uint32{}
	adds := []*images.MntEntry{l.mounts[0]}
	for _, i := range p.add {
		adds = append(adds, l.mounts[i])
		if err := c.archived(ctx, l.mounts[i], l.mounts[:i]); err != nil {
			return err
		}
	}
	for _, m := range creationOrder(adds) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := k.makeOne(m, made); err != nil {
			return fmt.Errorf("mount %s (%s, source %s, root %s): %w", m.GetMountpoint(), fsName(m), m.GetSource(), m.GetRoot(), err)
		}
		made = append(made, m)
		var st unix.Stat_t
		if err := unix.Stat(k.view(m), &st); err != nil {
			return os.NewSyscallError("stat "+m.GetMountpoint(), err)
		}
		devs[m.GetRootDev()] = kdev(unix.Major(st.Dev), unix.Minor(st.Dev))
	}
	if err := c.settle(k, p, source); err != nil {
		return err
	}
	if err := c.check(pid, devs); err != nil {
		return err
	}
	l.log.Debug().Int("pid", pid).Int("made", len(p.add)).Int("unmounted", len(p.remove)).Msg("mount namespace made from a copy of criu's")
	return nil
}

// archived refuses a tmpfs to make (m, with the image's mounts before
// it) that is not a bind of one of them and has no archive: the dump
// found it in criu's namespace and saved nothing of it (the copy would
// have it), and criu's has it no longer.
func (c *Copy) archived(ctx context.Context, m *images.MntEntry, before []*images.MntEntry) error {
	if fsName(m) != "tmpfs" || innerSource(m, before) != nil {
		return nil
	}
	r, err := c.l.store.Open(ctx, tmpfs.ImageName(m.GetRootDev()))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mount %s (tmpfs, source %s): %w: a mount of criu's namespace at dump, whose files were not saved, and which criu's has no longer", m.GetMountpoint(), m.GetSource(), errdefs.ErrUnsupported)
	}
	if err != nil {
		return err
	}
	return r.Close()
}

// plan compares the image with the task's namespace; crius are criu's
// mounts, parents first. devs are the devices of the filesystems made
// anew by the image's (a new tmpfs, proc... has a device of its own).
func (c *Copy) plan(pid int, devs map[uint32]uint32) (*plan, []mnt, error) {
	info, err := procfs.ReadMountInfo(pid)
	if err != nil {
		return nil, nil, err
	}
	have, err := parentsFirst(info, false)
	if err != nil {
		return nil, nil, err
	}
	mine, err := procfs.ReadMountInfo(os.Getpid())
	if err != nil {
		return nil, nil, err
	}
	crius, err := parentsFirst(mine, false)
	if err != nil {
		return nil, nil, err
	}
	want := make([]mnt, len(c.l.mounts))
	for i, m := range c.l.mounts {
		want[i] = fromEntry(m)
		if d, ok := devs[want[i].dev]; ok {
			want[i].dev = d
		}
	}
	return diff(want, mnts(have), groupsOf(mine)), mnts(crius), nil
}

// settle sets the flags, the propagation and unbindable of every mount
// the image has (the copy is a slave of criu's by now): a peer of a
// group of criu's joins it from criu's mount (source), a group of the
// tree's is made around its leader (its mount of the widest root), a
// slave joins its master's group and is made a slave.
func (c *Copy) settle(k *mk, p *plan, source func(int, mnt) (*images.MntEntry, error)) error {
	ms := c.l.mounts
	reach := func(i int) (string, error) {
		if _, ok := k.fds[ms[i]]; !ok {
			return "", fmt.Errorf("%s: covered in the copy of criu's namespace, its flags or propagation cannot be set", p.want[i].name())
		}
		return k.at(ms[i]), nil
	}
	added := map[int]bool{}
	for _, i := range p.add {
		added[i] = true
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if p.ignored[i] {
			continue
		}
		if f, _ := p.changes(i, added[i]); !f {
			continue
		}
		at, err := reach(i)
		if err != nil {
			return err
		}
		if err := k.mount("", at, "", unix.MS_REMOUNT|unix.MS_BIND|uintptr(ms[i].GetFlags()&^unix.MS_UNBINDABLE), ""); err != nil {
			return fmt.Errorf("%s: flags: %w", p.want[i].name(), err)
		}
	}
	leader := map[int]int{}
	for i, w := range p.want {
		if g := w.shared; g != 0 && !p.groups[g] && !p.ignored[i] {
			if o, ok := leader[g]; !ok || p.want[o].root != w.root && rootAbove(w.root, p.want[o].root) {
				leader[g] = i
			}
		}
	}
	done := map[int]bool{}
	var set func(i int) error
	// joined is where mount i gets peer group g from: criu's mount, or
	// the leader of the tree's group, set first.
	joined := func(g, i int) (*images.MntEntry, error) {
		if p.groups[g] {
			return source(g, p.want[i])
		}
		o, ok := leader[g]
		if !ok {
			return nil, fmt.Errorf("%s: peer group %d has no mount", p.want[i].name(), g)
		}
		if err := set(o); err != nil {
			return nil, err
		}
		return ms[o], nil
	}
	set = func(i int) error {
		if done[i] {
			return nil
		}
		done[i] = true
		w := p.want[i]
		if _, prop := p.changes(i, added[i]); !prop {
			return nil
		}
		at, err := reach(i)
		if err != nil {
			return err
		}
		if err := k.mount("", at, "", unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("%s: private: %w", w.name(), err)
		}
		if w.shared != 0 && (p.groups[w.shared] || leader[w.shared] != i) {
			o, err := joined(w.shared, i) // its master comes with the group
			if err != nil {
				return err
			}
			return k.setGroup(o, ms[i])
		}
		if w.master != 0 {
			o, err := joined(w.master, i)
			if err != nil {
				return err
			}
			if err := k.setGroup(o, ms[i]); err != nil {
				return err
			}
			if err := k.mount("", at, "", unix.MS_SLAVE, ""); err != nil {
				return fmt.Errorf("%s: slave: %w", w.name(), err)
			}
		}
		if w.shared != 0 {
			if err := k.mount("", at, "", unix.MS_SHARED, ""); err != nil {
				return fmt.Errorf("%s: shared: %w", w.name(), err)
			}
		}
		return nil
	}
	for i := range ms {
		if !p.ignored[i] {
			if err := set(i); err != nil {
				return err
			}
		}
	}
	for i, m := range ms {
		if m.GetFlags()&unix.MS_UNBINDABLE != 0 && !p.ignored[i] {
			at, err := reach(i)
			if err != nil {
				return err
			}
			if err := k.mount("", at, "", unix.MS_UNBINDABLE, ""); err != nil {
				return fmt.Errorf("%s: unbindable: %w", p.want[i].name(), err)
			}
		}
	}
	return nil
}

// check compares the task's namespace with the image once made: every
// mount there, none else, each with its flags, its peer group (the same
// group of criu's, or one of the tree's, the same for the same) and
// master; devs as for plan.
func (c *Copy) check(pid int, devs map[uint32]uint32) error {
	p, _, err := c.plan(pid, devs)
	if err != nil {
		return err
	}
	if len(p.add) > 0 {
		return fmt.Errorf("%s: not made", p.want[p.add[0]].name())
	}
	if len(p.remove) > 0 {
		return fmt.Errorf("%s: still there, the tree had unmounted it", p.have[p.remove[0]].name())
	}
	same := map[int]int{} // a group of the image -> the made one
	group := func(want, got int) bool {
		if want == 0 || p.groups[want] {
			return want == got
		}
		if g, ok := same[want]; ok {
			return g == got
		}
		same[want] = got
		return got != 0 && !p.groups[got]
	}
	for i, j := range p.match {
		w, h := p.want[i], p.have[j]
		if p.ignored[i] {
			continue
		}
		if w.flags != h.flags {
			return fmt.Errorf("%s: made with flags %#x, want %#x", w.name(), h.flags, w.flags)
		}
		if !group(w.shared, h.shared) || !group(w.master, h.master) {
			return fmt.Errorf("%s: made shared:%d master:%d, want shared:%d master:%d", w.name(), h.shared, h.master, w.shared, w.master)
		}
	}
	return nil
}

// MountID is the mount id of the file at path (opened O_PATH).
func MountID(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	fi, err := procfs.ReadFdinfo(os.Getpid(), fd)
	return fi.MntID, err
}
