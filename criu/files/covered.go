package files

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
)

// checkCovered refuses a file, linked at its path, that the path no
// longer leads to as its task sees it: a mount was made over the file
// (or over a directory above it) after it was opened, be it a bind of
// the file's own mount (upstream zdtm's overmount_fifo, overmount_file,
// overmounted_file). Restore opens files by their path
// and would open what the mount holds there, or make a new node (a
// fifo); CRIU 4.2 refuses such a file too.
//
// The path is judged from the task's own root, in its own mount
// namespace, and only where the path the kernel gives names the file
// from there:
//   - the file is on a mount of the task's mount table, and the task's
//     root is the root of its namespace's tree (readlink of /proc/PID/root
//     gives "/": the kernel's path of the file starts there; a
//     pivot_root'ed container's root, or a task of criu's namespace
//     that did not chroot());
//   - or the file is on a mount of criu's table (opened before the task's
//     namespace was copied) and the task's root is criu's: the path is
//     criu's, which is then the task's too.
//
// Other files are left to their own checks: one on a mount outside the
// task's namespace (a pivot_root'ed container's executable or stdio,
// inherited from the host: package mntns's CheckFiles, and mountedAt),
// a chroot()ed task's (its paths are criu's), criu's own fds (files
// passed in flight carry the tree's paths), /proc files, files deleted
// while open (ghosts, checkLinked) and files saved by another name than
// the kernel's (a terminal, by its device's name).
func (f *Set) checkCovered(path, link string, st *unix.Stat_t) error {
	if !strings.HasPrefix(path, "/") {
		return nil
	}
	if st.Nlink == 0 {
		return f.checkGhostCovered(path, link)
	}
	if target, err := os.Readlink(link); err != nil || target != path {
		return nil
	}
	var sfs unix.Statfs_t
	if unix.Statfs(link, &sfs) != nil || sfs.Type == unix.PROC_SUPER_MAGIC {
		return nil
	}
	dir, mnt, own, ok := f.taskFile(link)
	if !ok {
		return nil
	}
	root := dir + "/root"
	// On a mount of the task's namespace, the path must lead to the
	// file on that very mount (a mount of the same filesystem bound over
	// its directory shows the same inode, on another mount: restore
	// would open it there). On one of criu's, whose copy in the task's
	// namespace has another id, it must lead to the copy: a mount of the
	// task's at the same point, of the same root.
	var want func(id int) bool
	switch m, ok := own[mnt]; {
	case ok:
		if r, err := os.Readlink(root); err != nil || r != "/" {
			return nil
		}
		want = func(id int) bool { return id == m.ID }
	case criuRoot(dir):
		criu, err := f.mountIDs(fmt.Sprintf("/proc/%d", os.Getpid()))
		m, ok := criu[mnt]
		if err != nil || !ok {
			return nil
		}
		want = func(id int) bool {
			c, ok := own[id]
			return ok && c.Point == m.Point && c.Root == m.Root && c.Dev() == m.Dev()
		}
	default:
		return nil
	}
	// AT_SYMLINK_NOFOLLOW: an O_PATH fd of a symlink is the link, not
	// its target.
	var at unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, root+path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_MNT_ID, &at)
	if err != nil && err != unix.ENOENT && err != unix.ENOTDIR {
		return nil
	}
	if err == nil && unix.Mkdev(at.Dev_major, at.Dev_minor) == st.Dev && at.Ino == st.Ino && want(int(at.Mnt_id)) {
		return nil
	}
	return fmt.Errorf("%w: %s is covered by a mount made over it after it was opened (mount %d): its path, from the task's root, leads to another file (or to it on another mount) now, and restore opens files by path", errdefs.ErrUnsupported, path, mnt)
}

// taskDir is the /proc/PID of a /proc/PID/fd/N (or map_files, or
// task/TID/fd/N) link.
func taskDir(link string) (string, bool) {
	parts := strings.Split(link, "/")
	if len(parts) < 4 || parts[0] != "" || parts[1] != "proc" {
		return "", false
	}
	return "/proc/" + parts[2], true
}

// linkMount is the id of the mount of the file a magic link (an fd's or
// a mapping's) leads to (statx's STATX_MNT_ID follows the link to the
// open file itself).
func linkMount(link string) (int, bool) {
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, link, 0, unix.STATX_MNT_ID, &sx); err != nil || sx.Mask&unix.STATX_MNT_ID == 0 {
		return 0, false
	}
	return int(sx.Mnt_id), true
}

// checkGhostCovered refuses a file deleted while open (a ghost, made
// again at its path at restore) whose directory, seen from the task's
// root in its own mount namespace, is on another mount than the file
// now: a mount was made over the directory (or above it) since, and
// restore would make the ghost on what covers it. A directory removed
// too (made again at restore) is not judged, nor are files on mounts
// outside the task's namespace.
func (f *Set) checkGhostCovered(path, link string) error {
	dir, mnt, own, ok := f.taskFile(link)
	m, in := own[mnt]
	if !ok || !in {
		return nil
	}
	root := dir + "/root"
	if r, err := os.Readlink(root); err != nil || r != "/" {
		return nil
	}
	// Its directory, or the nearest one left above it (restore makes
	// the removed ones again), down to its mount's point.
	var at unix.Statx_t
	parent := filepath.Dir(strings.TrimSuffix(path, " (deleted)"))
	for unix.Statx(unix.AT_FDCWD, root+parent, unix.AT_NO_AUTOMOUNT, unix.STATX_MNT_ID, &at) != nil {
		if parent == m.Point || parent == "/" || !strings.HasPrefix(parent, strings.TrimSuffix(m.Point, "/")+"/") {
			return nil
		}
		parent = filepath.Dir(parent)
	}
	if int(at.Mnt_id) == mnt || !(parent == m.Point || m.Point == "/" || strings.HasPrefix(parent, m.Point+"/")) {
		return nil
	}
	return fmt.Errorf("%w: %s was deleted while open, on mount %d, which a mount made over its directory %s since covers: restore would make it on that mount", errdefs.ErrUnsupported, path, mnt, parent)
}

// taskFile gives, for the fd link of a task's file (/proc/PID/fd/N, not
// criu's own), the task's /proc/PID, the mount id of the file and the
// task's mounts by id; ok is false when one of them cannot be had: the
// file is then not judged.
func (f *Set) taskFile(link string) (dir string, mnt int, own map[int]procfs.MountInfo, ok bool) {
	dir, ok = taskDir(link)
	if !ok {
		return "", 0, nil, false
	}
	if self := fmt.Sprintf("/proc/%d", os.Getpid()); dir == self || dir == "/proc/self" {
		return "", 0, nil, false
	}
	if mnt, ok = linkMount(link); !ok {
		return "", 0, nil, false
	}
	own, err := f.mountIDs(dir)
	if err != nil {
		return "", 0, nil, false
	}
	return dir, mnt, own, true
}
