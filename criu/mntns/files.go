package mntns

import (
	"errors"
	"fmt"
	"os"
	"strings"

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
// exist), a file on a mount outside its mount namespace (opened from
// outside, or before the pivot: an inherited stdio file), ptys of a
// devpts instance other than its own at /dev/pts.
func CheckFiles(pid int, entries []*images.FileEntry) error {
	if reachable(pid) {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(procfs.Path(pid, "exe"), &st); err == nil && st.Nlink == 0 {
		exe, _ := os.Readlink(procfs.Path(pid, "exe"))
		return fmt.Errorf("%w: the executable %s of the pivot_root'ed container's root task %d (restore with --root starts from it before the container's mounts exist)", errdefs.ErrUnsupported, exe, pid)
	}
	ms, err := procfs.ReadMountInfo(pid)
	if err != nil {
		return err
	}
	mounts := map[int32]bool{}
	for _, m := range ms {
		mounts[int32(m.ID)] = true
	}
	regs := map[uint32]string{}
	for _, e := range entries {
		r := e.GetReg()
		if r == nil {
			continue
		}
		regs[e.GetId()] = r.GetName()
		if id := r.GetMntId(); id >= 0 && !mounts[id] {
			return fmt.Errorf("%w: %s (file %d) is on a mount outside the pivot_root'ed container's mount namespace (mnt_id %d): restore opens its files inside it", errdefs.ErrUnsupported, r.GetName(), e.GetId(), id)
		}
	}
	for _, e := range entries {
		t := e.GetTty()
		if t == nil {
			continue
		}
		name := regs[t.GetRegfId()]
		if name != "/dev/ptmx" && !strings.HasPrefix(name, "/dev/pts/") {
			continue // an external terminal, given at restore
		}
		if err := ownDevpts(pid); err != nil {
			return fmt.Errorf("%w: the pty %s (tty id %d) in a pivot_root'ed container: %v", errdefs.ErrUnsupported, name, e.GetId(), err)
		}
	}
	return nil
}

// ownDevpts checks that the container of task pid has a devpts instance
// of its own at /dev/pts, which restore mounts anew and opens its ptys
// on (not criu's, bound in).
func ownDevpts(pid int) error {
	var st unix.Statfs_t
	var sd, md unix.Stat_t
	p := procfs.Path(pid, "root") + "/dev/pts"
	if err := unix.Statfs(p, &st); err != nil || st.Type != unix.DEVPTS_SUPER_MAGIC {
		return errors.New("its /dev/pts is no devpts")
	}
	if unix.Stat(p, &sd) == nil && unix.Stat("/dev/pts", &md) == nil && sd.Dev == md.Dev {
		return errors.New("its /dev/pts is criu's devpts instance, bound in (restore makes a new one)")
	}
	return nil
}
