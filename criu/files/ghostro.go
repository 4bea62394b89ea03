package files

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

// checkGhostReadOnly refuses a file deleted while open (path, reached
// through the task's fd link) on a read-only mount that restore cannot
// make writable for the time it makes and removes the copy: restore
// does so (package mntns, Layout.Writable) for a mount whose own flag
// is read-only, in the tree's own mount namespace, which it makes; not
// for a read-only file system (every mount of it would change), nor a
// mount of criu's namespace (made read-only outside the tree).
func (f *Set) checkGhostReadOnly(path, link string) error {
	var sfs unix.Statfs_t
	if unix.Statfs(link, &sfs) != nil || sfs.Flags&unix.ST_RDONLY == 0 {
		return nil
	}
	why := "in criu's mount namespace"
	if _, mnt, own, ok := f.taskFile(link); !ok {
		why = "whose mount is not found"
	} else if m, ok := own[mnt]; !ok {
		why = "whose mount is not found"
	} else if slices.Contains(m.SuperOptions, "ro") {
		why = "a read-only file system, not only a read-only mount"
	} else if mine, err := f.mountIDs("/proc/self"); err != nil {
		return err
	} else if _, theirs := mine[mnt]; !theirs && f.OwnMounts {
		return nil
	}
	return fmt.Errorf("%w: %s was deleted while open, on a read-only mount, %s (restore makes its copy at its path)", errdefs.ErrUnsupported, path, why)
}
