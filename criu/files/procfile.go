package files

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

// checkProcPid refuses a file of a /proc of criu's pid namespace that
// belongs to a task of the tree by that pid (/proc/PID/status,
// /proc/PID/task/TID/stat...) when the task's pid there differs from its
// pid in the tree's own namespace: restore keeps the tree's pids, not
// the ones outside it, and would open another task's file, or none.
// CRIU 4.2 opens it by its path all the same. A file of the tree's own
// /proc (a container's), or of a task outside the tree, is opened by its
// path as CRIU does. treePid gives a task's (or thread's) pid in the
// tree by its pid in criu's namespace; nil: nothing is refused.
func checkProcPid(path, link string, treePid func(int) (int, bool)) error {
	if treePid == nil {
		return nil
	}
	var sfs unix.Statfs_t
	if unix.Statfs(link, &sfs) != nil || sfs.Type != unix.PROC_SUPER_MAGIC {
		return nil
	}
	// The /proc the path is in: the longest prefix whose directory is a
	// procfs root (inode 1), with a pid after it.
	parts := strings.Split(path, "/")
	for i := len(parts) - 1; i > 0; i-- {
		pid, err := strconv.Atoi(parts[i])
		if err != nil || pid <= 0 {
			continue
		}
		root := strings.Join(parts[:i], "/")
		if root == "" {
			root = "/"
		}
		var st unix.Stat_t
		if unix.Statfs(root, &sfs) != nil || sfs.Type != unix.PROC_SUPER_MAGIC || unix.Stat(root, &st) != nil || st.Ino != 1 {
			continue
		}
		// Of criu's pid namespace: its self is criu.
		if self, err := os.Readlink(root + "/self"); err != nil || self != strconv.Itoa(os.Getpid()) {
			return nil
		}
		if vpid, ok := treePid(pid); ok && vpid != pid {
			return fmt.Errorf("%w: %s is a file of task %d of the tree (%d in its pid namespace), named by its pid in a /proc of another pid namespace, which restore does not keep", errdefs.ErrUnsupported, path, pid, vpid)
		}
		return nil
	}
	return nil
}

// checkProcGone refuses a file of a /proc whose path, seen from the
// task's root, names nothing any more: a file of the /proc/PID directory
// of a task that has exited (/proc/PID/mountinfo kept open after the
// child was reaped). Restore opens /proc files by their path and would
// fail; CRIU 4.2 makes a helper task of that pid for it. link is the
// task's /proc/TASK/fd/N (or map_files) link to the file.
func checkProcGone(path, link string) error {
	var sfs unix.Statfs_t
	if unix.Statfs(link, &sfs) != nil || sfs.Type != unix.PROC_SUPER_MAGIC || !strings.HasPrefix(path, "/") {
		return nil
	}
	root, ok := taskRoot(link)
	if !ok {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(root+path, &st); err == unix.ENOENT {
		return fmt.Errorf("%w: %s is a /proc file whose path names nothing now (a file of a task that has exited?): restore opens it by its path", errdefs.ErrUnsupported, path)
	}
	return nil
}

// taskRoot is the /proc/PID/root of the task whose /proc/PID/fd/N (or
// map_files) link is given; none for a chroot()ed task.
func taskRoot(link string) (string, bool) {
	parts := strings.Split(link, "/")
	if len(parts) < 4 || parts[0] != "" {
		return "", false
	}
	i := 1
	for ; i < len(parts); i++ {
		if _, err := strconv.Atoi(parts[i]); err == nil || parts[i] == "self" {
			break
		}
	}
	if i >= len(parts)-1 {
		return "", false
	}
	root := strings.Join(parts[:i+1], "/") + "/root"
	// A chroot()ed task: the paths are criu's, not from its root.
	if r, err := os.Readlink(root); err != nil || r != "/" {
		return "", false
	}
	return root, true
}

// checkCovered refuses a file, linked at its path, that the path no
// longer leads to from the task's root: a mount was made over it (or
// over a directory above it) after it was opened. Restore opens files by
// their path and would open what the mount holds there, or make a new
// node (a fifo): CRIU 4.2 refuses it too ("overmounted"). Files of /proc
// and those deleted while open (ghosts, checkLinked) are left to their
// own checks, and so are the files of a chroot()ed task (the path is
// then criu's, not from the task's root).
func checkCovered(path, link string, st *unix.Stat_t) error {
	if st.Nlink == 0 || !strings.HasPrefix(path, "/") {
		return nil
	}
	if target, err := os.Readlink(link); err != nil || strings.HasSuffix(target, " (deleted)") {
		return nil
	}
	var sfs unix.Statfs_t
	if unix.Statfs(link, &sfs) != nil || sfs.Type == unix.PROC_SUPER_MAGIC {
		return nil
	}
	root, ok := taskRoot(link)
	if !ok {
		return nil
	}
	var at unix.Stat_t
	if err := unix.Stat(root+path, &at); err != nil && err != unix.ENOENT {
		return nil
	} else if err == nil && at.Dev == st.Dev && at.Ino == st.Ino {
		return nil
	}
	return fmt.Errorf("%w: %s is covered by a mount made over it after it was opened: its path leads to another file now, and restore opens files by path", errdefs.ErrUnsupported, path)
}
