// Package mpath holds what the mount packages share about mount
// points: which mount a point leads to, and a point's path below its
// parent's.
package mpath

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
)

// TopMount is the id of the mount that m's mount point leads to from
// root (the task's root, /proc/PID/root), the topmost of the mounts
// stacked there: m itself unless a mount was made over it, or over a
// directory above it (-1 when the path leads nowhere now); false: not
// looked up.
func TopMount(root string, m procfs.MountInfo) (int, bool) {
	if root == "" {
		return 0, false
	}
	var sx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, root+m.Point, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_MNT_ID, &sx)
	switch {
	case err == unix.ENOENT || err == unix.ENOTDIR:
		return -1, true
	case err != nil || sx.Mask&unix.STATX_MNT_ID == 0:
		return 0, false
	}
	return int(sx.Mnt_id), true
}

// RelPoint is mount point of a mount as a path below its parent's mount
// point parent ("" at the same point, stacked on it).
func RelPoint(parent, point string) string {
	if parent == "/" {
		return point
	}
	return strings.TrimPrefix(point, parent)
}
