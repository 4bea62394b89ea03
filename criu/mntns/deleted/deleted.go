package deleted

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/mntns/mpath"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Package deleted saves and makes again binds of a directory or file
// deleted since they were made.
//
// A bind of a directory or file deleted since (mountinfo shows its root
// with "//deleted" after it) is saved with the root without it and
// deleted set, as CRIU does; restore makes the directory (or an empty
// file) again at its path, with the mode and owner of the node under
// the mount point, binds it and removes it. Dump refuses by name what
// that would not make as it was: a file with data, another kind of
// node, a mode or owner other than the mount point's, a covered bind.

const suffix = "//deleted"

// Root is m's root without the suffix, and whether it had it.
func Root(m procfs.MountInfo) (string, bool) {
	return strings.CutSuffix(m.Root, suffix)
}

// Check refuses a bind of a deleted node (m, in the mount
// namespace of task pid; ns its mounts) that restore cannot make again.
func Check(pid int, m procfs.MountInfo, ns []procfs.MountInfo, name string) error {
	root := procfs.Path(pid, "root")
	if top, ok := mpath.TopMount(root, m); !ok || top != m.ID {
		return fmt.Errorf("%s: %w: a bind of a directory or file deleted since, covered", name, errdefs.ErrUnsupported)
	}
	var st unix.Stat_t
	if err := unix.Stat(root+m.Point, &st); err != nil {
		return fmt.Errorf("%s: %w", name, os.NewSyscallError("stat", err))
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFREG:
		if st.Size != 0 {
			return fmt.Errorf("%s: %w: a bind of a file deleted since, of %d bytes: restore makes it again empty", name, errdefs.ErrUnsupported, st.Size)
		}
	default:
		return fmt.Errorf("%s: %w: a bind of a node deleted since, neither a directory nor a file (mode %#o)", name, errdefs.ErrUnsupported, st.Mode)
	}
	under, err := underNode(pid, m, ns)
	if err != nil {
		return fmt.Errorf("%s: the node under it: %w", name, err)
	}
	if under.Mode != st.Mode || under.Uid != st.Uid || under.Gid != st.Gid {
		return fmt.Errorf("%s: %w: a bind of a node deleted since, of mode %#o and owner %d:%d, over a node of mode %#o and owner %d:%d: restore makes it again as the node under it",
			name, errdefs.ErrUnsupported, st.Mode, st.Uid, st.Gid, under.Mode, under.Uid, under.Gid)
	}
	return nil
}

// underNode stats the node m is mounted on, in a clone of its parent
// mount alone (open_tree, in the task's namespace), which its parent's
// mount point must lead to.
func underNode(pid int, m procfs.MountInfo, ns []procfs.MountInfo) (unix.Stat_t, error) {
	var st unix.Stat_t
	var parent *procfs.MountInfo
	for i := range ns {
		if ns[i].ID == m.Parent {
			parent = &ns[i]
		}
	}
	if parent == nil {
		return st, fmt.Errorf("no parent mount %d", m.Parent)
	}
	if top, ok := mpath.TopMount(procfs.Path(pid, "root"), *parent); !ok || top != parent.ID {
		return st, fmt.Errorf("%w: its parent mount %s is covered", errdefs.ErrUnsupported, parent.Point)
	}
	rel := mpath.RelPoint(parent.Point, m.Point)
	err := nsenter.Do(pid, nsenter.Mnt, func() error {
		fd, err := unix.OpenTree(unix.AT_FDCWD, parent.Point, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return os.NewSyscallError("open_tree "+parent.Point, err)
		}
		defer unix.Close(fd)
		return os.NewSyscallError("fstatat", unix.Fstatat(fd, "./"+strings.TrimPrefix(rel, "/"), &st, unix.AT_SYMLINK_NOFOLLOW))
	})
	return st, err
}

// Remake makes again the deleted node the bind m is made from,
// at srcView (as criu reaches it), with the mode and owner of its mount
// point (target, as criu reaches it): it returns the undo, which removes
// it once the bind is made.
func Remake(m *images.MntEntry, srcView, target string) (func() error, error) {
	var st unix.Stat_t
	if err := unix.Stat(target, &st); err != nil {
		return nil, fmt.Errorf("deleted bind: its mount point: %w", os.NewSyscallError("stat", err))
	}
	mode := st.Mode &^ unix.S_IFMT
	var remove func() error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdir(srcView, mode); err != nil {
			return nil, fmt.Errorf("deleted bind: make %s again: %w", m.GetRoot(), os.NewSyscallError("mkdir", err))
		}
		remove = func() error { return os.Remove(srcView) }
	case unix.S_IFREG:
		fd, err := unix.Open(srcView, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, mode)
		if err != nil {
			return nil, fmt.Errorf("deleted bind: make %s again: %w", m.GetRoot(), os.NewSyscallError("open", err))
		}
		unix.Close(fd)
		remove = func() error { return os.Remove(srcView) }
	default:
		return nil, fmt.Errorf("%w: deleted bind over a node of mode %#o", errdefs.ErrBadImage, st.Mode)
	}
	if err := unix.Lchown(srcView, int(st.Uid), int(st.Gid)); err != nil {
		remove()
		return nil, os.NewSyscallError("lchown "+filepath.Base(srcView), err)
	}
	if err := unix.Chmod(srcView, mode); err != nil { // past the umask
		remove()
		return nil, os.NewSyscallError("chmod "+filepath.Base(srcView), err)
	}
	return remove, nil
}
