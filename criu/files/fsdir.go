package files

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
)

// FsDir reads the cwd or root ("cwd", "root") of task pid as a path from
// criu's root, which restore opens (and chroots into) as it is. A
// directory that the path does not lead to (a root or cwd in another
// mount namespace, such as a pivot_root'ed container's whose old root
// was detached: the kernel then shows it relative to that namespace's
// root) is refused by name, unless the task's mount namespace is dumped
// (ownNS): its paths are then the namespace's, which restore makes again
// (package mntns) and opens inside it.
func FsDir(pid int, which string, ownNS bool) (string, error) {
	link := procfs.Path(pid, which)
	path, err := os.Readlink(link)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", link, err)
	}
	var want, got unix.Stat_t
	if err := unix.Stat(link, &want); err != nil {
		return "", fmt.Errorf("stat %s: %w", link, os.NewSyscallError("stat", err))
	}
	if p, ok := strings.CutSuffix(path, " (deleted)"); ok {
		// A ghost directory (AddReg), made again at restore. A removed
		// root is chroot()ed into from the cwd (restore's chroot(".")
		// once the ghosts are removed): only when the cwd is that
		// directory. CRIU 4.2 fails on a removed root in its parasite.
		var cwd unix.Stat_t
		if which == "root" && (unix.Stat(procfs.Path(pid, "cwd"), &cwd) != nil || cwd.Dev != want.Dev || cwd.Ino != want.Ino) {
			return "", fmt.Errorf("dump %d: its %s %s: %w: a deleted directory as the root (chroot), with the cwd elsewhere", pid, which, path, errdefs.ErrUnsupported)
		}
		return p, nil
	}
	if ownNS && strings.HasPrefix(path, "/") {
		if err := fsDirCovered(pid, which, path, link); err != nil {
			return "", err
		}
		return path, nil
	}
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("dump %d: its %s %q %w", pid, which, path, errdefs.ErrUnreachable)
	}
	if err := unix.Stat(path, &got); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		return "", fmt.Errorf("dump %d: its %s %s (device %d:%d inode %d) %w", pid, which, path,
			unix.Major(want.Dev), unix.Minor(want.Dev), want.Ino, errdefs.ErrUnreachable)
	}
	return path, nil
}

// fsDirCovered refuses the cwd (or root) of task pid, linked at link,
// that its path no longer leads to from the task's root, in its mount
// namespace: a mount was made over it (or over a directory above it)
// since the task went there. Restore chdirs by path, into what covers
// it. Not judged when the task's root is not its namespace's (a chroot()
// inside it: the path is from the namespace's root).
func fsDirCovered(pid int, which, path, link string) error {
	root := procfs.Path(pid, "root")
	if r, err := os.Readlink(root); err != nil || r != "/" {
		return nil
	}
	var want, got unix.Statx_t
	const mask = unix.STATX_INO | unix.STATX_MNT_ID
	if unix.Statx(unix.AT_FDCWD, link, 0, mask, &want) != nil || want.Mask&unix.STATX_MNT_ID == 0 {
		return nil
	}
	err := unix.Statx(unix.AT_FDCWD, root+path, unix.AT_NO_AUTOMOUNT, mask, &got)
	if err == nil && got.Ino == want.Ino && got.Mnt_id == want.Mnt_id {
		return nil
	}
	if err != nil && err != unix.ENOENT && err != unix.ENOTDIR {
		return nil
	}
	return fmt.Errorf("dump %d: its %s %s: %w: covered by a mount made over it (or over a directory above it) since: its path leads to another directory now, and restore opens it by path", pid, which, path, errdefs.ErrUnsupported)
}
