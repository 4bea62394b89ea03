package mntns

import (
	"context"
	"fmt"
	"os"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mntns/deleted"
	"github.com/criugo/criu/criu/mntns/mpath"
	"github.com/criugo/criu/criu/mntns/tmpfs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// A tree whose mount namespace is a copy of criu's (unshare -m, no
// pivot_root) is restored in a new copy of criu's, made different where
// the tree's was: the mounts it made there are made again (a tmpfs with
// its files), those of criu's it unmounted are unmounted, per-mount
// flags and propagation are set as they were. Dump and restore compare
// the two tables alike (diff): a mount of one matches a mount of the
// other at the same point, of the same filesystem and root, whose parent
// matches its parent. A mount below one that receives propagation from
// a peer group of criu's (/run/netns, shared with criu's) is not looked
// at: it came and goes with criu's, in the tree's namespace as in the
// copy.

// mnt is one mount as diff compares it: from an image entry (mnt_id,
// root_dev) or from mountinfo.
type mnt struct {
	id, parent          int
	point, root, fstype string // fstype: "" for one CRIU gives no number
	dev                 uint32 // kdev
	flags               uint32 // per-mount MS_*, with MS_UNBINDABLE
	shared, master      int
}

func fromInfo(m procfs.MountInfo) mnt {
	flags, _ := parseMountOpts(m.Options)
	if m.Unbindable {
		flags |= unbindable
	}
	fs := m.FSType
	if fstypes[fs] == 0 {
		fs = "" // as the image has it: a number CRIU gives, or none
	}
	root, _ := deleted.Root(m) // as the image has it
	return mnt{m.ID, m.Parent, m.Point, root, fs, kdev(m.Major, m.Minor), flags, m.Shared, m.Master}
}

func fromEntry(e *images.MntEntry) mnt {
	fs := fsName(e)
	if t := e.GetFstype(); t == 0 || t == fstypeAuto {
		fs = ""
	}
	return mnt{int(e.GetMntId()), int(e.GetParentMntId()), e.GetMountpoint(), e.GetRoot(), fs, e.GetRootDev(), e.GetFlags(), int(e.GetSharedId()), int(e.GetMasterId())}
}

const unbindable = 1 << 17 // MS_UNBINDABLE

func (m mnt) name() string {
	return fmt.Sprintf("mount %s (%s, root %s)", m.point, m.fstype, m.root)
}

// plan is what makes the copy (have) the tree's namespace (want), both
// parents first, the root mount first.
type plan struct {
	want, have []mnt
	groups     map[int]bool // peer groups of criu's namespace
	match      map[int]int  // want index -> have index
	add        []int        // want indexes, parents first
	remove     []int        // have indexes whose parent stays
	// ignored: want mounts below one that receives propagation from
	// criu's (not looked at).
	ignored []bool
	slaved  map[int]bool // have indexes (slaveAll)
}

// diff matches want to have (see above).
func diff(want, have []mnt, groups map[int]bool) *plan {
	p := &plan{want: want, have: have, groups: groups, match: map[int]int{}, ignored: make([]bool, len(want))}
	wantAt, haveAt := map[int]int{}, map[int]int{}
	for i, m := range want {
		wantAt[m.id] = i
	}
	for j, m := range have {
		haveAt[m.id] = j
	}
	used := map[int]bool{}
	if len(want) > 0 && len(have) > 0 && want[0].dev == have[0].dev && want[0].root == have[0].root {
		p.match[0], used[0] = 0, true
	}
	for i := 1; i < len(want); i++ {
		w := want[i]
		pi := wantAt[w.parent]
		if p.ignored[pi] || p.receives(want[pi]) {
			p.ignored[i] = true
			continue
		}
		if pj, ok := p.match[pi]; ok {
			for j, h := range have {
				if !used[j] && h.parent == have[pj].id && h.point == w.point && h.root == w.root && h.dev == w.dev && h.fstype == w.fstype {
					p.match[i], used[j] = j, true
					break
				}
			}
		}
		if _, ok := p.match[i]; !ok {
			p.add = append(p.add, i)
		}
	}
	back := map[int]int{}
	for i, j := range p.match {
		back[j] = i
	}
	for j, h := range have {
		i, ok := back[haveAt[h.parent]]
		if _, kept := back[j]; kept || !ok || j == 0 || p.ignored[i] || p.receives(want[i]) {
			continue
		}
		p.remove = append(p.remove, j)
	}
	return p
}

// receives reports a mount in a peer group of criu's or a slave of one.
func (p *plan) receives(m mnt) bool { return p.groups[m.shared] || p.groups[m.master] }

// afterSlave is the propagation of a mount of the copy once it is made
// a slave (MS_SLAVE): a peer becomes a slave of its group.
func afterSlave(h mnt) (shared, master int) {
	if h.shared != 0 {
		return 0, h.shared
	}
	return 0, h.master
}

// changes reports a mount (want i) whose flags or propagation restore
// sets, once the mounts slaveAll gave are slaves: all of one made.
func (p *plan) changes(i int, made bool) (flags, prop bool) {
	if made {
		return true, true
	}
	j := p.match[i]
	w, h := p.want[i], p.have[j]
	s, m := h.shared, h.master
	if p.slaved[j] {
		s, m = afterSlave(h)
	}
	return w.flags != h.flags, w.shared != s || w.master != m
}

// slaveAll marks as made a slave every mount of have that restore makes
// one before it changes anything (a matched one, not below one that
// receives from criu's, which reach says a path leads to), and returns
// them: nothing mounted or unmounted on them reaches criu's namespace,
// and what is below them that criu's propagation brings is left as it
// is.
func (p *plan) slaveAll(reach func(mnt) bool) []int {
	p.slaved = map[int]bool{}
	var out []int
	for i := range p.want {
		if j, ok := p.match[i]; ok && !p.ignored[i] && reach(p.have[j]) {
			p.slaved[j] = true
			out = append(out, j)
		}
	}
	return out
}

// empty reports a copy that is the tree's namespace already: nothing
// made, nothing unmounted, the same flags and propagation.
func (p *plan) empty() bool {
	if len(p.add) > 0 || len(p.remove) > 0 || len(p.match) == 0 {
		return false
	}
	for i, j := range p.match {
		w, h := p.want[i], p.have[j]
		if w.flags != h.flags || w.shared != h.shared || w.master != h.master {
			return false
		}
	}
	return true
}

// groupsOf are the peer groups of ms.
func groupsOf(ms []procfs.MountInfo) map[int]bool {
	g := map[int]bool{}
	for _, m := range ms {
		if m.Shared != 0 {
			g[m.Shared] = true
		}
	}
	return g
}

func mnts(ms []procfs.MountInfo) []mnt {
	out := make([]mnt, len(ms))
	for i, m := range ms {
		out[i] = fromInfo(m)
	}
	return out
}

// groupSource is the mount of criu's namespace (ms, parents first) that
// a mount of root root on dev joins peer group g from: a peer of g of
// the same filesystem at or above that root, which its mount point
// leads to from criu's root; -1 if none.
func groupSource(ms []mnt, g int, dev uint32, root string) int {
	self := procfs.Path(os.Getpid(), "root")
	for j, m := range ms {
		if m.shared != g || m.dev != dev || !rootAbove(m.root, root) {
			continue
		}
		if top, ok := mpath.TopMount(self, procfs.MountInfo{Point: m.point}); ok && top == m.id {
			return j
		}
	}
	return -1
}

// uncovered reports a mount of criu's namespace its mount point leads to.
func uncovered(m mnt) bool {
	top, ok := mpath.TopMount(procfs.Path(os.Getpid(), "root"), procfs.MountInfo{Point: m.point})
	return ok && top == m.id
}

// dumpCopy checks the tree's namespace (ns, parents first) against
// criu's (mine) and archives the tmpfs the tree made (see above). It
// refuses, naming the mount, what restore cannot make in a new copy: a
// mount of a filesystem neither made anew nor a bind of a mount of the
// namespace, one below a mount of criu's that a mount covers, an
// unmounted or changed mount of criu's that a mount covers in criu's
// namespace, a slave of a peer group neither criu's nor the tree's, a
// peer of a group of criu's no uncovered mount of criu's is in.
func dumpCopy(ctx context.Context, store image.Store, pid int, ns, mine []procfs.MountInfo, opts DumpOptions) error {
	ordered, err := parentsFirst(mine, false)
	if err != nil {
		return fmt.Errorf("criu's mounts: %w", err)
	}
	want, have := mnts(ns), mnts(ordered)
	p := diff(want, have, groupsOf(mine))
	if p.empty() {
		return nil
	}
	if _, ok := p.match[0]; !ok {
		return fmt.Errorf("%s: %w: the root of a copy of criu's mount namespace is not criu's root", want[0].name(), errdefs.ErrUnsupported)
	}
	p.slaveAll(uncovered)
	inTree := map[int]bool{}
	for _, m := range want {
		if m.shared != 0 && !p.groups[m.shared] {
			inTree[m.shared] = true
		}
	}
	const why = "in the tree's mount namespace, a copy of criu's, which restore makes as a new copy of criu's"
	added, archived := map[int]bool{}, map[uint32]bool{}
	for _, i := range p.add {
		added[i] = true
		m, w := ns[i], want[i]
		name := fmt.Sprintf("mount %s (%s, source %s, root %s)", m.Point, m.FSType, m.Source, m.Root)
		switch {
		case bindOfInner(m, ns):
			if _, gone := deleted.Root(m); gone {
				if err := deleted.Check(pid, m, ns, name); err != nil {
					return err
				}
			}
		case newFS[m.FSType] || opts.EnableFS[m.FSType]:
			if m.FSType == "tmpfs" && m.Root != "/" {
				return fmt.Errorf("%s: %w: made %s: a part of a tmpfs no mount of the namespace holds whole", name, errdefs.ErrUnsupported, why)
			}
		default:
			return fmt.Errorf("%s: %w: made %s: neither a bind of one of its mounts nor a filesystem made anew", name, errdefs.ErrUnsupported, why)
		}
		for k, o := range want {
			if o.id == w.parent {
				if j, ok := p.match[k]; ok && !uncovered(have[j]) {
					return fmt.Errorf("%s: %w: made %s, on %s, which a mount covers in criu's", name, errdefs.ErrUnsupported, why, have[j].name())
				}
			}
		}
		if m.FSType == "tmpfs" && m.Root == "/" && !archived[w.dev] {
			archived[w.dev] = true // once, as restore fills it (binds of its root too)
			top, ok := mpath.TopMount(procfs.Path(pid, "root"), m)
			if err := tmpfs.Dump(ctx, store, pid, m, ok && top != m.ID, w.dev, opts.Sockets); err != nil {
				return err
			}
		}
	}
	for _, j := range p.remove {
		if !uncovered(have[j]) {
			return fmt.Errorf("%s of criu's mount namespace: %w: unmounted %s, and covered in criu's, where restore cannot reach it", have[j].name(), errdefs.ErrUnsupported, why)
		}
	}
	for i, w := range want {
		if p.ignored[i] {
			continue
		}
		if j, ok := p.match[i]; ok {
			if f, pr := p.changes(i, false); (f || pr) && !uncovered(have[j]) {
				return fmt.Errorf("%s: %w: its flags or propagation changed %s, and it is covered in criu's, where restore cannot reach it", w.name(), errdefs.ErrUnsupported, why)
			}
		}
		if w.master != 0 && !p.groups[w.master] && !inTree[w.master] {
			return fmt.Errorf("%s: %w: a slave of peer group %d, neither criu's nor the tree's", w.name(), errdefs.ErrUnsupported, w.master)
		}
		for _, g := range []int{w.shared, w.master} {
			if p.groups[g] && groupSource(have, g, w.dev, w.root) < 0 && (added[i] || g == w.shared) {
				return fmt.Errorf("%s: %w: in peer group %d of criu's mount namespace, which no uncovered mount of criu's of its filesystem at or above its root is in", w.name(), errdefs.ErrUnsupported, g)
			}
		}
	}
	return nil
}
