package mntns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mntns/deleted"
	"github.com/criugo/criu/criu/mntns/mpath"
	"github.com/criugo/criu/criu/mntns/tmpfs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Syscall runs system call nr in the root task of a restore, cloned
// into a new mount namespace (a copy of criu's), in which Make builds
// the layout.
type Syscall func(name string, nr uintptr, args ...uint64) (uint64, error)

// task is the root task: its pid in criu's pid namespace, its syscalls.
type task struct {
	pid int
	sys Syscall
}

func (t task) Pid() int { return t.pid }
func (t task) Syscall(name string, nr uintptr, args ...uint64) (uint64, error) {
	return t.sys(name, nr, args...)
}
func (t task) WriteMem(addr uint64, b []byte) error {
	return mem.WriteRemote(t.pid, []mem.Range{{Start: addr, End: addr + uint64(len(b))}}, b)
}

// RestoreOptions are what the user said at restore.
type RestoreOptions struct {
	// Root is --root DIR: the container's rootfs, bind-mounted as the
	// namespace's root mount.
	Root string
	// External maps each key of an external mount to the path it is
	// bound from (--ext-mount-map KEY:PATH, --external mnt[KEY]:PATH).
	External map[string]string
}

// Layout is a mount namespace to make again: the image's mounts,
// parents first.
type Layout struct {
	store   image.Store
	mounts  []*images.MntEntry
	opts    RestoreOptions
	root    string // opts.Root, absolute and clean
	log     zerolog.Logger
	archive map[uint32]bool // tmpfs devices filled
	// ptys are the pty masters, by index, opened for binds of a
	// devpts's slaves (devpts.go).
	ptys map[uint32]int
}

// Load reads mountpoints-ID.img of a root task in a mount namespace of
// its own (own; without one, only --root is refused). It returns nil (nothing to make: the
// clone's copy of criu's namespace is the restored one) for images
// without it and for a namespace that was a copy of criu's, restored
// without --root. Images of a pivot_root'ed namespace need --root: they
// are refused without it, naming the root mount.
func Load(ctx context.Context, store image.Store, own bool, id uint32, opts RestoreOptions, log zerolog.Logger) (*Layout, error) {
	if !own {
		if opts.Root != "" {
			return nil, fmt.Errorf("%w: --root %s: the tree is in criu's mount namespace", errdefs.ErrUnsupported, opts.Root)
		}
		return nil, nil
	}
	l := &Layout{store: store, opts: opts, log: log, archive: map[uint32]bool{}}
	var err error
	if l.mounts, err = readMounts(ctx, store, id); err != nil {
		return nil, err
	}
	if len(l.mounts) == 0 {
		if opts.Root != "" {
			return nil, fmt.Errorf("%w: --root %s: the images have no mount namespace (%s)", errdefs.ErrUnsupported, opts.Root, ImageName(id))
		}
		return nil, nil
	}
	if opts.Root == "" {
		if copyOfMine(l.mounts[0]) {
			return nil, nil
		}
		r := l.mounts[0]
		return nil, fmt.Errorf("%w: mount namespace %d: its root mount (source %s, root %s) is a container's rootfs: restore it with --root DIR",
			errdefs.ErrUnsupported, id, r.GetSource(), r.GetRoot())
	}
	if l.root, err = filepath.Abs(opts.Root); err != nil {
		return nil, err
	}
	if st, err := os.Stat(l.root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--root %s: not a directory", opts.Root)
	}
	for _, m := range l.mounts[1:] {
		if k := m.GetExtKey(); k == AutoKey {
			if !filepath.IsAbs(m.GetSource()) {
				return nil, fmt.Errorf("%w: external mount %s found by --ext-mount-map auto: its source %q is no path", errdefs.ErrBadImage, m.GetMountpoint(), m.GetSource())
			}
		} else if k != "" {
			if _, ok := opts.External[k]; !ok {
				return nil, fmt.Errorf("%w: external mount %s (key %s): give its path with --ext-mount-map %s:PATH", errdefs.ErrUnsupported, m.GetMountpoint(), k, k)
			}
		}
	}
	return l, nil
}

// readMounts reads mountpoints-ID.img, parents first (orderMounts);
// none without it.
func readMounts(ctx context.Context, store image.Store, id uint32) ([]*images.MntEntry, error) {
	var ms []*images.MntEntry
	found, err := image.ReadEach(ctx, store, ImageName(id), func() *images.MntEntry { return &images.MntEntry{} },
		func(e *images.MntEntry, _ *image.Decoder) error { ms = append(ms, e); return nil })
	if err != nil || !found || len(ms) == 0 {
		return nil, err
	}
	if ms, err = orderMounts(ms); err != nil {
		return nil, fmt.Errorf("%s: %w", ImageName(id), err)
	}
	return ms, nil
}

// orderMounts returns the image's mounts parents first, the root mount
// first: as they are when they are so (ours, in mountinfo's order),
// else (CRIU 4.2 writes the root last) breadth first from the root, the
// mounts of one parent in mnt_id order (the order they were mounted in,
// which keeps an overmount above what it covers).
func orderMounts(ms []*images.MntEntry) ([]*images.MntEntry, error) {
	byID := map[uint32]*images.MntEntry{}
	for _, m := range ms {
		byID[m.GetMntId()] = m
	}
	var roots []*images.MntEntry
	for _, m := range ms {
		if p := byID[m.GetParentMntId()]; p == nil || p == m {
			roots = append(roots, m)
		}
	}
	if len(roots) != 1 {
		return nil, fmt.Errorf("%w: %d root mounts, want 1", errdefs.ErrBadImage, len(roots))
	}
	seen, ok := map[uint32]bool{}, ms[0] == roots[0]
	for _, m := range ms {
		if m != roots[0] && !seen[m.GetParentMntId()] {
			ok = false
		}
		seen[m.GetMntId()] = true
	}
	if ok {
		return ms, nil
	}
	sorted := slices.Clone(ms)
	slices.SortStableFunc(sorted, func(a, b *images.MntEntry) int { return cmp.Compare(a.GetMntId(), b.GetMntId()) })
	out, done := []*images.MntEntry{roots[0]}, map[*images.MntEntry]bool{roots[0]: true}
	for i := 0; i < len(out); i++ {
		for _, m := range sorted {
			if !done[m] && m.GetParentMntId() == out[i].GetMntId() {
				done[m] = true
				out = append(out, m)
			}
		}
	}
	if len(out) != len(ms) {
		return nil, fmt.Errorf("%w: %d of %d mounts not below the root mount", errdefs.ErrBadImage, len(ms)-len(out), len(ms))
	}
	return out, nil
}

// extPath is where the external mount m is bound from: the path given
// for its key, or the one --ext-mount-map auto saved (AutoKey). A
// relative path given (--external mnt[KEY]:DIR) is of criu's root
// directory, as CRIU 4.2 takes it (upstream zdtm's mnt_root_ext gives
// .zdtm_root_ext.tmp for /.zdtm_root_ext.tmp), not of criu's working
// directory.
func (l *Layout) extPath(m *images.MntEntry) string {
	if m.GetExtKey() == AutoKey {
		return m.GetSource()
	}
	p := l.opts.External[m.GetExtKey()]
	if p != "" && !filepath.IsAbs(p) {
		p = filepath.Join("/", p)
	}
	return p
}

// copyOfMine reports a root mount that is criu's own root mount: the
// namespace was a copy of criu's.
func copyOfMine(r *images.MntEntry) bool {
	mine, err := procfs.ReadMountInfo(os.Getpid())
	if err != nil {
		return false
	}
	for i := len(mine) - 1; i >= 0; i-- {
		if m := mine[i]; m.Point == "/" {
			return kdev(m.Major, m.Minor) == r.GetRootDev() && m.Root == r.GetRoot()
		}
	}
	return false
}

// HostPath is where criu finds path (a path of the container) before
// the namespace is made: below --root, below the path an external mount
// is bound from, or below the directory of either that an internal bind
// is made from (upstream zdtm's mnt_ro_root runs from a bind of a
// directory of the root filesystem). A path on a mount made anew (a
// tmpfs) has none.
func (l *Layout) HostPath(path string) (string, error) {
	best, bestLen := "", -1
	for i, m := range l.mounts {
		p := m.GetMountpoint()
		if !under(path, p) || len(p) <= bestLen {
			continue
		}
		best, bestLen = l.hostRoot(i), len(p)
		if best != "" {
			best = filepath.Join(best, strings.TrimPrefix(path, p))
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: %s is on a mount of the container that is made at restore, not reachable before it", errdefs.ErrUnsupported, path)
	}
	return best, nil
}

// hostRoot is where criu finds the root of mount i before the namespace
// is made ("": on a mount made anew).
func (l *Layout) hostRoot(i int) string {
	m := l.mounts[i]
	switch {
	case i == 0:
		return l.root
	case m.GetExtKey() != "":
		return l.extPath(m)
	}
	before := l.mounts[:i]
	o := innerSource(m, before)
	if o == nil {
		return ""
	}
	j := slices.Index(before, o)
	src := l.hostRoot(j)
	if src == "" {
		return ""
	}
	return filepath.Join(src, strings.TrimPrefix(m.GetRoot(), strings.TrimSuffix(o.GetRoot(), "/")))
}

// under reports path at or below directory dir.
func under(path, dir string) bool {
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}

const (
	slot    = 4096
	bufSize = 4 * slot
)

// mk is one injection session: the task and a buffer in it, and an
// O_PATH fd in the task of each mount made (fds), through which every
// later step reaches that very mount, whatever was mounted over it
// since.
type mk struct {
	l    *Layout
	t    task
	buf  uint64
	fds  map[*images.MntEntry]int
	byID map[uint32]*images.MntEntry
	tmp  int // the task's O_PATH fd of criu's temporary directory (inTask); 0: none
}

// at is the root of the made mount m as the task reaches it.
func (k *mk) at(m *images.MntEntry) string {
	return fmt.Sprintf("/proc/self/fd/%d", k.fds[m])
}

// view is the root of the made mount m as criu reaches it.
func (k *mk) view(m *images.MntEntry) string {
	return procfs.Path(k.t.Pid(), fmt.Sprintf("fd/%d", k.fds[m]))
}

// open opens path in the task O_PATH and returns the fd.
func (k *mk) open(path string) (int, error) {
	a, err := k.str(0, path)
	if err != nil {
		return -1, err
	}
	v := int64(unix.AT_FDCWD)
	fd, err := k.t.Syscall("open(O_PATH) "+path, unix.SYS_OPENAT, uint64(v), a, unix.O_PATH|unix.O_CLOEXEC, 0)
	return int(fd), err
}

// closeAll closes the fds of the mounts in the task.
func (k *mk) closeAll() {
	for m, fd := range k.fds {
		if _, err := k.t.Syscall("close", unix.SYS_CLOSE, uint64(fd)); err != nil {
			k.l.log.Warn().Err(err).Str("point", m.GetMountpoint()).Msg("close the fd of a made mount")
		}
	}
	k.fds = map[*images.MntEntry]int{}
}

// moveTo moves the mount of fd (made aside) to path in the task.
func (k *mk) moveTo(fd int, path string) error {
	empty := k.buf + 3*slot
	if err := k.t.WriteMem(empty, []byte{0}); err != nil {
		return err
	}
	b, err := k.str(1, path)
	if err != nil {
		return err
	}
	// T_SYMLINKS: path may end in a /proc/self/fd/N link (stacked on
	// the parent's root).
	const moveMountFEmptyPath, moveMountTSymlinks = 0x4, 0x10
	v := int64(unix.AT_FDCWD)
	_, err = k.t.Syscall("move_mount "+path, unix.SYS_MOVE_MOUNT, uint64(fd), empty, uint64(v), b, moveMountFEmptyPath|moveMountTSymlinks)
	return err
}

// str writes s NUL-terminated in slot i of the buffer; "" is NULL.
func (k *mk) str(i int, s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	if len(s)+1 > slot {
		return 0, fmt.Errorf("path too long: %q", s)
	}
	a := k.buf + uint64(i*slot)
	return a, k.t.WriteMem(a, append([]byte(s), 0))
}

func (k *mk) mount(src, target, fstype string, flags uintptr, data string) error {
	var a [4]uint64
	for i, s := range []string{src, target, fstype, data} {
		var err error
		if a[i], err = k.str(i, s); err != nil {
			return err
		}
	}
	_, err := k.t.Syscall(fmt.Sprintf("mount(%q, %q, %q, %#x, %q)", src, target, fstype, flags, data), unix.SYS_MOUNT, a[0], a[1], a[2], uint64(flags), a[3])
	return err
}

func (k *mk) path1(name string, nr uintptr, p string, args ...uint64) error {
	a, err := k.str(0, p)
	if err != nil {
		return err
	}
	_, err = k.t.Syscall(name+" "+p, nr, append([]uint64{a}, args...)...)
	return err
}

// session starts an injection session in task pid: a buffer mapped in
// it; end closes the fds of the mounts and unmaps the buffer.
func (l *Layout) session(pid int, sys Syscall) (*mk, error) {
	t := task{pid, sys}
	const prot, flags = unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS
	buf, err := t.Syscall("mmap", unix.SYS_MMAP, 0, bufSize, prot, flags, ^uint64(0), 0)
	if err != nil {
		return nil, err
	}
	k := &mk{l: l, t: t, buf: buf, fds: map[*images.MntEntry]int{}, byID: map[uint32]*images.MntEntry{}}
	for _, m := range l.mounts {
		k.byID[m.GetMntId()] = m
	}
	return k, nil
}

func (k *mk) end() error {
	k.closeAll()
	_, err := k.t.Syscall("munmap", unix.SYS_MUNMAP, k.buf, bufSize)
	return err
}

// Make builds the layout in the task's mount namespace and moves the
// task's root there (see the package doc): the copy of criu's namespace
// is made rslave, --root bind-mounted on itself, every mount made below
// it in the image's order, peer groups and masters set, then each
// mount's flags; the task pivot_roots into the root and the old root is
// detached. Afterwards every path the task opens resolves inside the
// container. A mount it cannot make is refused by name.
func (l *Layout) Make(ctx context.Context, pid int, sys Syscall) (err error) {
	k, err := l.session(pid, sys)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := k.end(); err == nil {
			err = uerr
		}
	}()
	if err := k.mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return err
	}
	if err := k.mount(l.root, l.root, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	if l.mounts[0].GetMasterId() == 0 {
		if err := k.mount("", l.root, "", unix.MS_PRIVATE, ""); err != nil {
			return err
		}
	}
	fd, err := k.open(l.root)
	if err != nil {
		return err
	}
	k.fds[l.mounts[0]] = fd
	made := []*images.MntEntry{l.mounts[0]}
	for _, m := range creationOrder(l.mounts) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := k.makeOne(m, made); err != nil {
			return fmt.Errorf("mount %s (%s, source %s, root %s): %w", m.GetMountpoint(), fsName(m), m.GetSource(), m.GetRoot(), err)
		}
		made = append(made, m)
	}
	if err := k.propagation(); err != nil {
		return err
	}
	// Unbindable once every bind (of them too) is made.
	for _, m := range l.mounts[1:] {
		if m.GetFlags()&unix.MS_UNBINDABLE != 0 {
			if err := k.mount("", k.at(m), "", unix.MS_UNBINDABLE, ""); err != nil {
				return fmt.Errorf("mount %s: unbindable: %w", m.GetMountpoint(), err)
			}
		}
	}
	for i := len(l.mounts) - 1; i >= 1; i-- {
		m := l.mounts[i]
		if err := k.mount("", k.at(m), "", unix.MS_REMOUNT|unix.MS_BIND|uintptr(m.GetFlags()&^unix.MS_UNBINDABLE), ""); err != nil {
			return fmt.Errorf("mount %s: flags: %w", m.GetMountpoint(), err)
		}
	}
	k.closeAll()
	if err := k.path1("chdir", unix.SYS_CHDIR, l.root); err != nil {
		return err
	}
	dot, err := k.str(0, ".")
	if err != nil {
		return err
	}
	if _, err := k.t.Syscall("pivot_root(., .)", unix.SYS_PIVOT_ROOT, dot, dot); err != nil {
		return err
	}
	if _, err := k.t.Syscall("umount2(., MNT_DETACH)", unix.SYS_UMOUNT2, dot, unix.MNT_DETACH); err != nil {
		return err
	}
	if err := k.path1("chdir", unix.SYS_CHDIR, "/"); err != nil {
		return err
	}
	if err := k.mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|uintptr(l.mounts[0].GetFlags()&^unix.MS_UNBINDABLE), ""); err != nil {
		return fmt.Errorf("root mount: flags: %w", err)
	}
	if l.mounts[0].GetFlags()&unix.MS_UNBINDABLE != 0 {
		if err := k.mount("", "/", "", unix.MS_UNBINDABLE, ""); err != nil {
			return fmt.Errorf("root mount: unbindable: %w", err)
		}
	}
	l.log.Debug().Int("pid", pid).Str("root", l.root).Int("mounts", len(l.mounts)).Msg("mount namespace made")
	return nil
}

// fsName is the name of m's filesystem.
func fsName(m *images.MntEntry) string {
	if n := m.GetFsname(); n != "" && m.GetFstype() == fstypeAuto {
		return n
	}
	for name, n := range fstypes {
		if n == m.GetFstype() {
			return name
		}
	}
	return fmt.Sprintf("fstype %d", m.GetFstype()) // unsupported: 0
}

// makeOne mounts m, whose parent is made (made: the mounts made so far,
// in order): aside first, on a new directory (or file) of criu's /tmp,
// then moved onto its mount point below its parent, which it is reached
// through (its fd): a mount made over its parent's directory since does
// not stand in the way, and m is found by its own fd afterwards.
func (k *mk) makeOne(m *images.MntEntry, made []*images.MntEntry) error {
	l := k.l
	parent := k.byID[m.GetParentMntId()]
	if _, ok := k.fds[parent]; !ok {
		return fmt.Errorf("%w: its parent mount %d is not made before it", errdefs.ErrBadImage, m.GetParentMntId())
	}
	rel := mpath.RelPoint(parent.GetMountpoint(), m.GetMountpoint())
	var src, srcView string
	bind := true
	switch {
	case m.GetExtKey() != "":
		src = filepath.Clean(l.extPath(m))
		srcView = k.hostView(src)
	default:
		if o := innerSource(m, made); o != nil {
			rel := strings.TrimPrefix(m.GetRoot(), strings.TrimSuffix(o.GetRoot(), "/"))
			src, srcView = k.at(o)+rel, k.view(o)+rel
			if err := k.slaveNode(o, rel); err != nil {
				return err
			}
			if m.GetDeleted() {
				remove, err := deleted.Remake(m, srcView, k.view(parent)+mpath.RelPoint(parent.GetMountpoint(), m.GetMountpoint()))
				if err != nil {
					return err
				}
				defer func() {
					if err := remove(); err != nil {
						l.log.Warn().Err(err).Str("point", m.GetMountpoint()).Msg("remove the node of a deleted bind made again")
					}
				}()
			}
		} else if m.GetRoot() == "/" && anew(m) {
			bind = false
		} else if anew(m) && fsName(m) != "tmpfs" {
			// A part of a new instance (a cgroup hierarchy's
			// directory): the whole is mounted aside, bound from.
			whole, err := k.mountAside(m)
			if err != nil {
				return err
			}
			defer k.unmountAside(whole)
			src = filepath.Join(k.inTask(whole), m.GetRoot())
			srcView = k.hostView(src)
		} else {
			return fmt.Errorf("%w: neither external, nor a bind of another mount of the namespace, nor made anew", errdefs.ErrUnsupported)
		}
	}
	dir := true
	if bind {
		st, err := os.Stat(srcView)
		if err != nil {
			return fmt.Errorf("bind source %s: %w", src, err)
		}
		dir = st.IsDir()
	}
	if err := makeTarget(k.view(parent)+rel, dir); err != nil {
		return err
	}
	aside, err := asideNode(dir)
	if err != nil {
		return err
	}
	defer os.Remove(aside)
	fill := !bind && fsName(m) == "tmpfs" && !l.archive[m.GetRootDev()]
	sb := uintptr(m.GetSbFlags())
	if fill {
		sb &^= unix.MS_RDONLY // filled first, made read-only after
	}
	if bind {
		err = k.mount(src, k.inTask(aside), "", unix.MS_BIND, "")
	} else {
		err = k.mount(m.GetSource(), k.inTask(aside), fsName(m), sb, m.GetOptions())
	}
	if err != nil {
		return err
	}
	fd, err := k.open(k.inTask(aside))
	if err == nil {
		k.fds[m] = fd
		err = k.moveTo(fd, k.at(parent)+rel)
	}
	if err != nil {
		if uerr := k.path1("umount2", unix.SYS_UMOUNT2, k.inTask(aside), unix.MNT_DETACH); uerr != nil {
			l.log.Warn().Err(uerr).Str("dir", aside).Msg("detach a mount made aside")
		}
		return err
	}
	if !fill {
		return nil
	}
	l.archive[m.GetRootDev()] = true
	if err := tmpfs.Restore(context.Background(), l.store, k.view(m), m.GetMountpoint(), m.GetRootDev()); err != nil {
		return err
	}
	if sb != uintptr(m.GetSbFlags()) {
		return k.mount("", k.at(m), "", unix.MS_REMOUNT|uintptr(m.GetSbFlags()), "")
	}
	return nil
}

// asideNode makes a new directory (or an empty file, for the bind of a
// file) in criu's /tmp, which the task's namespace, a copy of criu's,
// sees too, for a mount to be made on before it is moved to its place.
func asideNode(dir bool) (string, error) {
	if dir {
		return os.MkdirTemp("", "criu-mnt-")
	}
	f, err := os.CreateTemp("", "criu-mnt-")
	if err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// creationOrder is the order mounts[1:] are made in: the image's (parents
// first), but a mount made over a directory above one of its siblings
// (same parent, its mount point below the sibling's) comes after that
// sibling, whose mount point it would otherwise cover.
func creationOrder(mounts []*images.MntEntry) []*images.MntEntry {
	rest := slices.Clone(mounts[1:])
	var out []*images.MntEntry
	for len(rest) > 0 {
		pick := 0
		for i, m := range rest {
			covers := false
			for _, o := range rest {
				if o != m && o.GetParentMntId() == m.GetParentMntId() && strings.HasPrefix(o.GetMountpoint(), strings.TrimSuffix(m.GetMountpoint(), "/")+"/") {
					covers = true
					break
				}
			}
			if !covers {
				pick = i
				break
			}
		}
		out = append(out, rest[pick])
		rest = slices.Delete(rest, pick, pick+1)
	}
	return out
}

// anew reports a mount of a filesystem made anew at restore.
func anew(m *images.MntEntry) bool {
	return newFS[fsName(m)] || m.GetFstype() == fstypeAuto && m.GetFsname() != ""
}

// mountAside mounts m's filesystem whole on a new directory of criu's
// /tmp (which the task's namespace, a copy of criu's, sees too).
func (k *mk) mountAside(m *images.MntEntry) (string, error) {
	dir, err := os.MkdirTemp("", "criu-mnt-")
	if err != nil {
		return "", err
	}
	if err := k.mount(m.GetSource(), k.inTask(dir), fsName(m), uintptr(m.GetSbFlags()), m.GetOptions()); err != nil {
		os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// unmountAside detaches what mountAside made and removes its directory.
func (k *mk) unmountAside(dir string) {
	if err := k.path1("umount2", unix.SYS_UMOUNT2, k.inTask(dir), unix.MNT_DETACH); err != nil {
		k.l.log.Warn().Err(err).Str("dir", dir).Msg("detach a mount made aside")
	}
	os.Remove(dir)
}

// hostView is path of the task's namespace (before the pivot_root) as
// criu opens it.
func (k *mk) hostView(path string) string {
	if rest, ok := strings.CutPrefix(path, "/proc/self/"); ok {
		return procfs.Path(k.t.Pid(), rest) // below k.tmp (inTask)
	}
	return procfs.Path(k.t.Pid(), "root") + path
}

// inTask is a path of criu's (a node made aside in its temporary
// directory) as the task reaches it: through k.tmp, the task's fd of
// that directory, where there is one (a copy of criu's namespace, whose
// /tmp a mount made may cover), else the same path.
func (k *mk) inTask(path string) string {
	dir := os.TempDir()
	if rel, ok := strings.CutPrefix(path, dir+"/"); ok && k.tmp > 0 {
		return fmt.Sprintf("/proc/self/fd/%d/%s", k.tmp, rel)
	}
	return path
}

// makeTarget makes a missing mount point p (as criu reaches it): a
// directory, or an empty file for the bind of a file.
func makeTarget(p string, dir bool) error {
	if _, err := os.Lstat(p); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if dir {
		return os.Mkdir(p, 0o755)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// innerSource is the mount before m that holds m's filesystem at or
// above m's root (as bindOfInner at dump), the closest one last. The
// root mount is one: a bind of a directory of the root filesystem is
// made from that directory of --root, which stands for the dumped root
// (as CRIU does).
func innerSource(m *images.MntEntry, before []*images.MntEntry) *images.MntEntry {
	var src *images.MntEntry
	for _, o := range before {
		if o.GetRootDev() != m.GetRootDev() {
			continue
		}
		r := o.GetRoot()
		if r == "/" || m.GetRoot() == r || strings.HasPrefix(m.GetRoot(), strings.TrimSuffix(r, "/")+"/") {
			src = o
		}
	}
	return src
}

// propagation makes the peer groups and masters of the image inside the
// namespace: each group's leader is made shared, a slave joins its
// master's group (move_mount MOVE_MOUNT_SET_GROUP) and is made a slave
// (and shared again, in a group of its own, when it leads one), then the
// other mounts of each group join their leader, which gives them its
// master too (the kernel's set-group copies both; it takes only a
// private mount, so a member is not made a slave by itself first). A
// group's leader is its mount of the widest root (set-group wants the
// root of the mount joined from at or above the joining one's), the
// first of them in the image's order. Masters outside the namespace
// come with the binds from criu's (rslave) namespace.
func (k *mk) propagation() error {
	leader := map[uint32]*images.MntEntry{}
	for _, m := range k.l.mounts[1:] {
		g := m.GetSharedId()
		if g == 0 {
			continue
		}
		if o := leader[g]; o == nil || o.GetRoot() != m.GetRoot() && rootAbove(m.GetRoot(), o.GetRoot()) {
			leader[g] = m
		}
	}
	inner := func(m *images.MntEntry) *images.MntEntry { return leader[m.GetMasterId()] }
	for _, m := range k.l.mounts[1:] {
		if leader[m.GetSharedId()] == m && (m.GetMasterId() == 0 || inner(m) == nil) {
			if err := k.mount("", k.at(m), "", unix.MS_SHARED, ""); err != nil {
				return fmt.Errorf("mount %s: shared: %w", m.GetMountpoint(), err)
			}
		}
	}
	for _, m := range k.l.mounts[1:] {
		o := inner(m)
		if o == nil || o == m {
			continue
		}
		if g := m.GetSharedId(); g != 0 && leader[g] != m {
			continue // its leader's master comes with the leader's group
		}
		if err := k.setGroup(o, m); err != nil {
			return err
		}
		if err := k.mount("", k.at(m), "", unix.MS_SLAVE, ""); err != nil {
			return fmt.Errorf("mount %s: slave: %w", m.GetMountpoint(), err)
		}
		if leader[m.GetSharedId()] == m {
			if err := k.mount("", k.at(m), "", unix.MS_SHARED, ""); err != nil {
				return fmt.Errorf("mount %s: shared: %w", m.GetMountpoint(), err)
			}
		}
	}
	for _, m := range k.l.mounts[1:] {
		if o := leader[m.GetSharedId()]; o != nil && o != m {
			if err := k.setGroup(o, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// rootAbove reports a mount root that is at or above another's (both
// paths inside one filesystem).
func rootAbove(root, other string) bool {
	return root == "/" || root == other || strings.HasPrefix(other, strings.TrimSuffix(root, "/")+"/")
}

// setGroup puts mount to in from's peer group.
func (k *mk) setGroup(from, to *images.MntEntry) error {
	const moveMountSetGroup = 0x100
	a, err := k.str(0, k.at(from))
	if err != nil {
		return err
	}
	b, err := k.str(1, k.at(to))
	if err != nil {
		return err
	}
	v := int64(unix.AT_FDCWD)
	atFdcwd := uint64(v)
	// F_ and T_SYMLINKS: both paths are /proc/self/fd/N links.
	const symlinks = 0x1 | 0x10
	if _, err := k.t.Syscall("move_mount(MOVE_MOUNT_SET_GROUP)", unix.SYS_MOVE_MOUNT, atFdcwd, a, atFdcwd, b, moveMountSetGroup|symlinks); err != nil {
		return fmt.Errorf("mount %s: peer group of %s: %w", to.GetMountpoint(), from.GetMountpoint(), err)
	}
	return nil
}

// InRoot is path (a path of the container) as criu opens it once Make
// made the namespace of the root task pid: through /proc/PID/root. A nil
// Layout (a copy of criu's namespace) leaves path as it is.
func (l *Layout) InRoot(pid int, path string) string {
	if !strings.HasPrefix(path, "/") {
		return path
	}
	return l.Prefix(pid) + path
}

// Prefix is what InRoot puts before a path: "" for a nil Layout.
func (l *Layout) Prefix(pid int) string {
	if l == nil {
		return ""
	}
	return procfs.Path(pid, "root")
}
