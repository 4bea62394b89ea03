package files

import (
	"fmt"
	"os"
	"slices"
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
	// Only a file of a task's directory (/proc/PID/...) goes with the
	// task: /proc itself, or /proc/sys/..., is there while the kernel is
	// (and a chroot()ed task's /proc, opened before its chroot, is not
	// below its root).
	if !slices.ContainsFunc(strings.Split(path, "/"), func(c string) bool {
		_, err := strconv.Atoi(c)
		return err == nil
	}) {
		return nil
	}
	parts := strings.Split(link, "/")
	if len(parts) < 4 || parts[0] != "" {
		return nil
	}
	i := 1
	for ; i < len(parts); i++ {
		if _, err := strconv.Atoi(parts[i]); err == nil || parts[i] == "self" {
			break
		}
	}
	if i >= len(parts)-1 {
		return nil
	}
	root := strings.Join(parts[:i+1], "/") + "/root"
	var st unix.Stat_t
	if err := unix.Stat(root+path, &st); err == unix.ENOENT {
		return fmt.Errorf("%w: %s is a /proc file whose path names nothing now (a file of a task that has exited?): restore opens it by its path", errdefs.ErrUnsupported, path)
	}
	return nil
}
