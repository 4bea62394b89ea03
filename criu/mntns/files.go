package mntns

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// CheckFiles refuses, at the dump of a pivot_root'ed tree (whose root
// task pid's root no path from criu's reaches: its restore needs
// --root), what a restore with --root cannot make (restore refuses it
// too, but by then the tree is gone): a root task whose executable was
// deleted (the restore starts from it before the container's mounts
// exist), terminals.
func CheckFiles(pid int, entries []*images.FileEntry) error {
	if reachable(pid) {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(procfs.Path(pid, "exe"), &st); err == nil && st.Nlink == 0 {
		exe, _ := os.Readlink(procfs.Path(pid, "exe"))
		return fmt.Errorf("%w: the executable %s of the pivot_root'ed container's root task %d (restore with --root starts from it before the container's mounts exist)", errdefs.ErrUnsupported, exe, pid)
	}
	for _, e := range entries {
		if e.GetTty() != nil {
			return fmt.Errorf("%w: a terminal (tty id %d) in a pivot_root'ed container (restore with --root would make it on the host's devpts)", errdefs.ErrUnsupported, e.GetId())
		}
	}
	return nil
}
