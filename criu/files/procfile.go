package files

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
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

// procGone tells, for a file of a /proc whose path, seen from the
// task's root, names nothing any more (a file of the /proc/PID directory
// of a task that has exited: /proc/PID/mountinfo kept open, or a cwd in
// /proc/PID, after the child was reaped), the pid it names: restore
// opens /proc files by their path, so it makes, as CRIU 4.2 does, a
// helper task of that pid for the while (REMAP_TYPE_PROCFS, remap_id the
// pid). Only a /proc of the task's own pid namespace is so: another's
// pid is no pid restore makes. 0 for any other file. link is the task's
// /proc/TASK/fd/N (or map_files, cwd) link to the file.
func procGone(path, link string) (int, error) {
	var sfs unix.Statfs_t
	if unix.Statfs(link, &sfs) != nil || sfs.Type != unix.PROC_SUPER_MAGIC || !strings.HasPrefix(path, "/") {
		return 0, nil
	}
	// Only a file of a task's directory (/proc/PID/...) goes with the
	// task: /proc itself, or /proc/sys/..., is there while the kernel is
	// (and a chroot()ed task's /proc, opened before its chroot, is not
	// below its root).
	parts := strings.Split(path, "/")
	if !slices.ContainsFunc(parts, func(c string) bool {
		_, err := strconv.Atoi(c)
		return err == nil
	}) {
		return 0, nil
	}
	dir, ok := taskDir(link)
	if !ok {
		return 0, nil
	}
	root := dir + "/root"
	var st unix.Stat_t
	if err := unix.Stat(root+path, &st); err != unix.ENOENT {
		return 0, nil
	}
	gone := fmt.Errorf("%w: %s is a /proc file whose path names nothing now (a file of a task that has exited?)", errdefs.ErrUnsupported, path)
	for i := 1; i < len(parts); i++ {
		pid, err := strconv.Atoi(parts[i])
		if err != nil || pid <= 0 {
			continue
		}
		proc := strings.Join(parts[:i], "/")
		if unix.Statfs(root+proc, &sfs) != nil || sfs.Type != unix.PROC_SUPER_MAGIC || unix.Stat(root+proc, &st) != nil || st.Ino != 1 {
			continue
		}
		// The /proc of the task's pid namespace: the task is there by
		// its pid inside it.
		var vpid int
		status, err := procfs.ReadStatusFile(dir + "/status")
		if err == nil {
			vpid, err = status.Inner("NSpid")
		}
		there, err1 := os.Readlink(fmt.Sprintf("%s%s/%d/ns/pid", root, proc, vpid))
		own, err2 := os.Readlink(dir + "/ns/pid")
		if err != nil || err1 != nil || err2 != nil || there != own {
			return 0, fmt.Errorf("%w, in a /proc of another pid namespace than the task's: restore makes no task of that pid there", gone)
		}
		return pid, nil
	}
	return 0, fmt.Errorf("%w, in no /proc restore finds", gone)
}
