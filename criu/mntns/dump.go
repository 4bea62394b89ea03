package mntns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mntns/deleted"
	"github.com/criugo/criu/criu/mntns/mpath"
	"github.com/criugo/criu/criu/mntns/tmpfs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// ImageName is the name of the image of mount namespace id.
func ImageName(id uint32) string {
	return "mountpoints-" + strconv.FormatUint(uint64(id), 10) + ".img"
}

// DumpOptions are what the user said about the namespace's mounts.
type DumpOptions struct {
	// External maps the mount point (inside the namespace) of each
	// external mount to its key (--external mnt[MOUNTPOINT]:KEY,
	// --ext-mount-map MOUNTPOINT:KEY).
	External map[string]string
	// EnableFS are filesystems (--enable-fs) mounted anew at restore
	// with their source and options, as the other newFS ones.
	EnableFS map[string]bool
	// Sockets are the paths (the namespace's) of the socket files that
	// unix sockets of the tree are bound to: a tmpfs's archive leaves
	// them out, restore binds them again (WithFiles).
	Sockets map[string]bool
	// Ptys are the indexes of the ptys the tree's files hold (tty
	// files, WithFiles): a bind of one of the namespace's devpts is
	// made again (devpts.go); of another, refused.
	Ptys map[uint32]bool
	// Auto (--ext-mount-map auto) takes as external a mount that is a
	// bind of a mount of criu's namespace (autoExternal), saved with
	// AutoKey and the path it is bound from; ExternalSharing
	// (--enable-external-sharing) and ExternalMasters
	// (--enable-external-masters) let it take shared mounts and slaves.
	Auto, ExternalSharing, ExternalMasters bool
}

// WithFiles returns o with Ptys (the indexes of its tty files) and
// Sockets filled from the tree's files.img entries: the unix sockets
// bound to a path whose file is theirs (a relative path joined to the
// directory it is relative to, name_dir).
func (o DumpOptions) WithFiles(files []*images.FileEntry) DumpOptions {
	o.Sockets, o.Ptys = map[string]bool{}, map[uint32]bool{}
	for _, f := range files {
		if t := f.GetTty(); t != nil {
			o.Ptys[t.GetTtyInfoId()/2] = true // a pty's ends: index*2 (+1 the master)
		}
		u := f.GetUsk()
		if u == nil || len(u.GetName()) == 0 || u.GetName()[0] == 0 || u.GetDeleted() {
			continue
		}
		name := strings.TrimRight(string(u.GetName()), "\x00")
		if name[0] != '/' {
			if !filepath.IsAbs(u.GetNameDir()) {
				continue
			}
			name = filepath.Join(u.GetNameDir(), name)
		}
		o.Sockets[name] = true
	}
	return o
}

// ParseExternalMnt reads one CRIU --external value of the mnt kind,
// "mnt[MOUNTPOINT]:KEY"; ok is false for a value of another kind.
func ParseExternalMnt(v string) (point, key string, ok bool, err error) {
	rest, found := strings.CutPrefix(v, "mnt[")
	if !found {
		return "", "", false, nil
	}
	point, key, found = strings.Cut(rest, "]:")
	if !found || point == "" || key == "" {
		return "", "", true, fmt.Errorf("%q: want mnt[MOUNTPOINT]:KEY", v)
	}
	return point, key, true, nil
}

// Dump writes mountpoints-ID.img with every mount of the mount
// namespace of task pid, parents first, with paths as the namespace
// sees them (read from /proc/PID/mountinfo). It refuses, naming the
// mount, what a restore cannot make again exactly: a mount of a
// filesystem that is neither made anew (newFS, opts.EnableFS), nor a
// bind of another mount of the namespace, nor named external; a mount
// in a peer group with criu's mount namespace; a slave of a group
// outside the namespace that is not external (see the package doc).
// A namespace whose root mount is criu's own root (a plain copy of
// criu's namespace) is written whole and checked against criu's
// (dumpCopy): restore makes it as a new copy of criu's, made different
// where it is. The files of each tmpfs of a pivot_root'ed namespace go to
// tmpfs-dev-N.tar.gz.img (dumpTmpfs).
func Dump(ctx context.Context, store image.Store, pid int, id uint32, opts DumpOptions, log zerolog.Logger) error {
	ms, err := procfs.ReadMountInfo(pid)
	if err != nil {
		return fmt.Errorf("dump mount namespace of %d: %w", pid, err)
	}
	mine, err := procfs.ReadMountInfo(os.Getpid())
	if err != nil {
		return fmt.Errorf("dump mount namespace of %d: criu's mounts: %w", pid, err)
	}
	copyOfMine := reachable(pid)
	ordered, err := parentsFirst(ms, copyOfMine)
	if err != nil {
		return fmt.Errorf("dump mount namespace of %d: %w", pid, err)
	}
	if CopyOfMine(pid) {
		// Restored as a new copy of criu's, made different where the
		// tree's is (copy.go).
		if err := dumpCopy(ctx, store, pid, ordered, mine, opts); err != nil {
			return fmt.Errorf("dump mount namespace of %d: %w", pid, err)
		}
	}
	var entries []proto.Message
	archived := map[uint32]bool{} // tmpfs devices
	named := opts.External
	opts.External = map[string]string{} // and those Auto finds
	for p, k := range named {
		opts.External[p] = k
	}
	for i, m := range ordered {
		e, err := entry(m)
		if err != nil {
			return fmt.Errorf("dump mount namespace of %d: %w", pid, err)
		}
		if _, ok := opts.External[m.Point]; opts.Auto && !ok && i > 0 && !copyOfMine {
			if src := autoExternal(m, mine, opts); src != "" {
				opts.External[m.Point] = AutoKey
				e.Source = proto.String(src)
				log.Info().Int("pid", pid).Str("point", m.Point).Str("source", src).Msg("external mount found (--ext-mount-map auto)")
			}
		}
		if fstypes[m.FSType] == 0 && opts.EnableFS[m.FSType] {
			// As CRIU: a filesystem it has no number for, mounted
			// anew, is AUTO with its name (fsname is refused by
			// CRIU 4.2's restore on any other).
			e.Fstype, e.Fsname = proto.Uint32(fstypeAuto), proto.String(m.FSType)
		}
		if key, ok := opts.External[m.Point]; ok {
			// As CRIU 4.2 writes it: ext_key only (ext_mount with
			// the key in root is the older images' form).
			e.ExtKey = proto.String(key)
		}
		if !copyOfMine {
			if err := check(m, i == 0, ordered, mine, opts, procfs.Path(pid, "root")); err != nil {
				return fmt.Errorf("dump mount namespace of %d: %w", pid, err)
			}
			if _, gone := deleted.Root(m); gone {
				if err := deleted.Check(pid, m, ordered, fmt.Sprintf("mount %s (%s, source %s, root %s)", m.Point, m.FSType, m.Source, m.Root)); err != nil {
					return fmt.Errorf("dump mount namespace of %d: %w", pid, err)
				}
			}
		}
		if _, ext := opts.External[m.Point]; !copyOfMine && !ext && m.FSType == "tmpfs" && m.Root == "/" && !archived[e.GetRootDev()] {
			archived[e.GetRootDev()] = true
			top, ok := mpath.TopMount(procfs.Path(pid, "root"), m)
			if err := tmpfs.Dump(ctx, store, pid, m, ok && top != m.ID, e.GetRootDev(), opts.Sockets); err != nil {
				return fmt.Errorf("dump mount namespace of %d: %w", pid, err)
			}
		}
		log.Debug().Int("pid", pid).Int("mnt_id", m.ID).Str("point", m.Point).Str("fstype", m.FSType).Msg("mount")
		entries = append(entries, e)
	}
	for p := range named {
		if !hasPoint(ordered, p) {
			// As CRIU, which looks the mounts up in the map: LXC
			// names its optional bind mounts whether they are there
			// or not.
			log.Warn().Int("pid", pid).Str("point", p).Msg("an external mount is named at a mount point where the namespace has none: ignored")
		}
	}
	return image.WriteImage(ctx, store, ImageName(id), entries...)
}

func hasPoint(ms []procfs.MountInfo, p string) bool {
	for _, m := range ms {
		if m.Point == p {
			return true
		}
	}
	return false
}

// entry is m as CRIU's mnt_entry.
func entry(m procfs.MountInfo) (*images.MntEntry, error) {
	flags, unknown := parseMountOpts(m.Options)
	if len(unknown) > 0 {
		return nil, fmt.Errorf("mount %s (%s): %w: per-mount options %s", m.Point, m.FSType, errdefs.ErrUnsupported, strings.Join(unknown, ","))
	}
	sb, data := parseSuperOpts(m.SuperOptions)
	root, gone := deleted.Root(m)
	e := &images.MntEntry{
		Fstype:      proto.Uint32(fstypes[m.FSType]),
		MntId:       proto.Uint32(uint32(m.ID)),
		RootDev:     proto.Uint32(kdev(m.Major, m.Minor)),
		ParentMntId: proto.Uint32(uint32(m.Parent)),
		Flags:       proto.Uint32(flags),
		SbFlags:     proto.Uint32(sb),
		Root:        proto.String(root),
		Mountpoint:  proto.String(m.Point),
		Source:      proto.String(m.Source),
		Options:     proto.String(data),
	}
	if gone {
		e.Deleted = proto.Bool(true) // as CRIU: the root without "//deleted"
	}
	if m.Shared != 0 {
		e.SharedId = proto.Uint32(uint32(m.Shared))
	}
	if m.Master != 0 {
		e.MasterId = proto.Uint32(uint32(m.Master))
	}
	if m.Unbindable {
		// As CRIU: in the mount's flags; restore makes it
		// unbindable once every bind is made.
		e.Flags = proto.Uint32(flags | unix.MS_UNBINDABLE)
	}
	return e, nil
}

// parentsFirst orders the mounts so that each comes after its parent,
// the namespace's root mount (the one whose parent is not listed) first,
// siblings in mountinfo's order (the order they were mounted in). A
// chroot()ed task sees only the mounts below its root, none or several
// of them with an unlisted parent: allowed with several (each with the
// mounts below it) only where the namespace is a copy of criu's, which
// restore makes without the image.
func parentsFirst(ms []procfs.MountInfo, several bool) ([]procfs.MountInfo, error) {
	byID := map[int]bool{}
	for _, m := range ms {
		byID[m.ID] = true
	}
	var out []procfs.MountInfo
	var roots int
	for _, m := range ms {
		if !byID[m.Parent] || m.Parent == m.ID {
			roots++
			out = append(out, m)
		}
	}
	if roots != 1 && !several {
		return nil, fmt.Errorf("%w: mountinfo has %d root mounts (a chroot()ed task?), want 1", errdefs.ErrUnsupported, roots)
	}
	done := map[int]bool{}
	for _, m := range out {
		done[m.ID] = true
	}
	for i := 0; i < len(out); i++ {
		for _, m := range ms {
			if m.Parent == out[i].ID && !done[m.ID] {
				done[m.ID] = true
				out = append(out, m)
			}
		}
	}
	if len(out) != len(ms) {
		return nil, fmt.Errorf("mountinfo: %d of %d mounts not below the root mount", len(ms)-len(out), len(ms))
	}
	return out, nil
}

// reachable reports a task whose root directory a path from criu's root
// leads to: its mount namespace has criu's root, and restore makes it
// again as a copy of its own (the kernel shows the root of a task in a
// pivot_root'ed namespace relative to that namespace's root).
// CopyOfMine tells that the mount namespace of task pid, rooted at
// criu's root, is dumped (and restored) as a copy of criu's, made
// different where the tree's is (copy.go), not mount by mount.
func CopyOfMine(pid int) bool {
	l, _ := os.Readlink(procfs.Path(pid, "root"))
	return l == "/" && reachable(pid)
}

func reachable(pid int) bool {
	link := procfs.Path(pid, "root")
	path, err := os.Readlink(link)
	if err != nil || !strings.HasPrefix(path, "/") {
		return false
	}
	var want, got unix.Stat_t
	if unix.Stat(link, &want) != nil || unix.Stat(path, &got) != nil {
		return false
	}
	return got.Dev == want.Dev && got.Ino == want.Ino
}

// check refuses a mount of a pivot_root'ed namespace that restore could
// not make again exactly. root is the task's root as criu opens it
// (/proc/PID/root), where the mount points are looked up ("": not).
func check(m procfs.MountInfo, isRoot bool, ns, mine []procfs.MountInfo, opts DumpOptions, root string) error {
	_, external := opts.External[m.Point]
	name := fmt.Sprintf("mount %s (%s, source %s, root %s)", m.Point, m.FSType, m.Source, m.Root)
	switch {
	case isRoot, external, newFS[m.FSType], opts.EnableFS[m.FSType], bindOfInner(m, ns):
	default:
		return fmt.Errorf("%s: %w: a bind mount from outside the namespace; name it with --external mnt[%s]:KEY", name, errdefs.ErrUnsupported, m.Point)
	}
	// Restore makes every mount through its parent's fd and reaches it
	// by its own afterwards, a mount covered since too; the files of a
	// covered tmpfs are read in a copy of the namespace where it is
	// uncovered (cleanMount), but not of an unbindable one, which is
	// read from its mount point.
	if top, ok := mpath.TopMount(root, m); m.Unbindable && m.FSType == "tmpfs" && !external && ok && top != m.ID {
		return fmt.Errorf("%s: %w: an unbindable tmpfs covered: its mount point leads to mount %d now (%s): its files cannot be read", name, errdefs.ErrUnsupported, top, pointOf(ns, top))
	}
	if m.Unbindable && m.FSType == "tmpfs" && !external {
		for _, o := range ns {
			if o.Parent == m.ID && o.ID != m.ID {
				// Its archive is read from the mount itself (no
				// clone of an unbindable one): what is under
				// the mounts below would be missed.
				return fmt.Errorf("%s: %w: an unbindable tmpfs with a mount below it (%s)", name, errdefs.ErrUnsupported, o.Point)
			}
		}
	}
	if _, gone := deleted.Root(m); gone && (isRoot || external) {
		return fmt.Errorf("%s: %w: a bind of a directory or file deleted since", name, errdefs.ErrUnsupported)
	}
	if m.FSType == "tmpfs" && m.Root != "/" && !external && !bindOfInner(m, ns) {
		return fmt.Errorf("%s: %w: a part of a tmpfs no mount of the namespace holds whole", name, errdefs.ErrUnsupported)
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(m.Root, "/")); err == nil && m.FSType == "devpts" && !external && !opts.Ptys[uint32(n)] {
		// LXC's lxc.tty.max ttys: their masters are its monitor's,
		// no task of the tree holds them. A pty the tree holds
		// (runc's /dev/console) is opened before the bind (devpts.go).
		return fmt.Errorf("%s: %w: a bind of pty %s of the namespace's devpts, which no task of the tree holds: restore makes a new devpts instance, which has no such pty when the mounts are made", name, errdefs.ErrUnsupported, m.Root[1:])
	}
	if m.Shared != 0 && !external && !isRoot {
		for _, o := range mine {
			if o.Shared == m.Shared {
				return fmt.Errorf("%s: %w: it shares peer group %d with criu's mount namespace (%s)", name, errdefs.ErrUnsupported, m.Shared, o.Point)
			}
		}
	}
	if m.Master != 0 && !external && !isRoot {
		inner := false
		for _, o := range ns {
			if o.Shared == m.Master {
				inner = true
			}
		}
		if !inner {
			return fmt.Errorf("%s: %w: a slave of peer group %d outside the namespace", name, errdefs.ErrUnsupported, m.Master)
		}
	}
	return nil
}

// pointOf names mount id of ns by its mount point.
func pointOf(ns []procfs.MountInfo, id int) string {
	for _, o := range ns {
		if o.ID == id {
			return "mount point " + o.Point
		}
	}
	return "no mount point"
}

// bindOfInner reports a mount whose filesystem another mount of the
// namespace, made before it, holds at or above the mount's root: restore
// binds it from there.
func bindOfInner(m procfs.MountInfo, ns []procfs.MountInfo) bool {
	for _, o := range ns {
		if o.ID == m.ID {
			return false // only mounts before m
		}
		if o.Major != m.Major || o.Minor != m.Minor {
			continue
		}
		if o.Root == "/" || m.Root == o.Root || strings.HasPrefix(m.Root, strings.TrimSuffix(o.Root, "/")+"/") {
			return true
		}
	}
	return false
}
