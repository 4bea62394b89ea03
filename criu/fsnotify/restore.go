package fsnotify

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Open creates the inotify file f describes in the restorer, with its
// watches (open) and its file status flags. ghosts are the ghost copies
// restore made, by the kernel's device number and inode. root is the
// root task's /proc/PID/root ("" for criu's): the watched paths and
// mounts are the tree's, a container's seen through it.
func Open(f *images.FileEntry, ghosts map[[2]uint64]string, root string) (int, error) {
	fd, err := open(f.GetIfy(), ghosts, root)
	if err != nil {
		return fd, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(f.GetIfy().GetFlags()&^unix.O_ACCMODE)); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return fd, nil
}

// Drain reads away the events queued on the restored inotify file fd
// (file id) while the tree was restored (the tasks opening their files,
// the ghost files made and removed): the queue of the dumped file is not
// in the images (CRIU drops it too), and these were not there.
func Drain(fd int, id uint32) error { return drain(fd, "inotify", id, nil) }

// drain reads what is queued on the notification file fd until nothing
// is, handing each read's bytes to got (nil: dropped).
func drain(fd int, kind string, id uint32, got func([]byte) error) error {
	buf := make([]byte, 64<<10)
	for {
		// The master shares its description, and so its flags,
		// with the tasks' fds: poll, then read what is there.
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := linux.Poll(fds, 0)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		r, err := unix.Read(fd, buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("drain %s file %d: %w", kind, id, os.NewSyscallError("read", err))
		}
		if got != nil {
			if err := got(buf[:r]); err != nil {
				return fmt.Errorf("drain %s file %d: %w", kind, id, err)
			}
		}
	}
}

// inotifyAddMask are the bits inotify_add_watch takes back from a
// watch's dumped mask (events and IN_ONESHOT, IN_EXCL_UNLINK...).
const inotifyAddMask = unix.IN_ALL_EVENTS | unix.IN_ONESHOT | unix.IN_EXCL_UNLINK | unix.IN_DONT_FOLLOW | unix.IN_ONLYDIR

// maxWdTries bounds the watches added and removed to reach a dumped
// watch descriptor.
const maxWdTries = 1 << 16

// open creates an inotify file in the restorer and adds its
// watches back by path, each with its dumped watch descriptor: the
// kernel hands out descriptors in increasing order, so a watch is added
// and removed again until it gets its number. Events queued at dump
// time are not in the images; the IN_IGNORED events of the removals are
// read away. The caller sets the file status flags.
//
// A watch goes, as CRIU's, on the ghost copy of its file when the
// images have one (a deleted file or directory the tree held open:
// ghosts, by the kernel's device number and inode), else at the path of
// the image, else on the file its handle opens (a file no path leads
// to, watched through /proc/self/fd).
func open(e *images.InotifyFileEntry, ghosts map[[2]uint64]string, root string) (fd int, err error) {
	fd, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return -1, os.NewSyscallError("inotify_init1", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}()
	wds := append([]*images.InotifyWdEntry(nil), e.GetWd()...)
	sort.Slice(wds, func(i, j int) bool { return wds[i].GetWd() < wds[j].GetWd() })
	removed := false
	for _, w := range wds {
		path := w.GetFHandle().GetPath()
		mask := w.GetMask() & inotifyAddMask
		var st unix.Stat_t
		if g, ok := ghosts[[2]uint64{uint64(w.GetSDev()), w.GetIIno()}]; ok {
			// A new inode, made from the ghost image, at a path of
			// the tree's (a container's below its root).
			path = root + g
		} else if path == "" {
			// CRIU's images name the file by its handle only; so do
			// ours for a file no path leads to.
			hfd, err := handleFd(w, root)
			if err != nil {
				return fd, fmt.Errorf("inotify watch %d: %w", w.GetWd(), err)
			}
			defer unix.Close(hfd)
			if err := unix.Fstat(hfd, &st); err != nil {
				return fd, fmt.Errorf("inotify watch %d: %w", w.GetWd(), os.NewSyscallError("fstat", err))
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return fd, fmt.Errorf("%w: inotify watch %d: a symbolic link known by its handle only", errdefs.ErrUnsupported, w.GetWd())
			}
			path = fmt.Sprintf("/proc/self/fd/%d", hfd)
		} else {
			path = root + path
			if err := unix.Lstat(path, &st); err != nil {
				return fd, fmt.Errorf("inotify watch %d: %w", w.GetWd(), os.NewSyscallError("lstat "+path, err))
			}
			if !sameInode(path, &st, w.GetIIno(), root) {
				return fd, fmt.Errorf("%w: inotify watch %d: %s is inode %d now, was %d", errdefs.ErrBadImage, w.GetWd(), path, st.Ino, w.GetIIno())
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				mask |= unix.IN_DONT_FOLLOW
			}
		}
		want := int(w.GetWd())
		for try := 0; ; try++ {
			if try == maxWdTries {
				return fd, fmt.Errorf("inotify watch %d on %s: watch descriptor not reached", want, path)
			}
			got, err := unix.InotifyAddWatch(fd, path, mask)
			if err != nil {
				return fd, fmt.Errorf("inotify watch %d: %w", want, os.NewSyscallError("inotify_add_watch "+path, err))
			}
			if got == want {
				break
			}
			if got > want {
				return fd, fmt.Errorf("%w: inotify watch %d on %s got descriptor %d (two watches on one inode?)", errdefs.ErrBadImage, want, path, got)
			}
			if _, err := unix.InotifyRmWatch(fd, uint32(got)); err != nil {
				return fd, os.NewSyscallError("inotify_rm_watch", err)
			}
			removed = true
		}
	}
	if removed {
		buf := make([]byte, 64<<10)
		for {
			if _, err := unix.Read(fd, buf); err != nil {
				break // EAGAIN: empty
			}
		}
	}
	return fd, nil
}

// sameInode says whether path, whose lstat is st, is still the watched
// inode ino. In a pivot_root'ed container (root is not criu's root) a
// tmpfs was made anew by this restore and filled from its archive: its
// files have new inode numbers, and the path is what names them.
func sameInode(path string, st *unix.Stat_t, ino uint64, root string) bool {
	if st.Ino == ino {
		return true
	}
	var sfs unix.Statfs_t
	if root == "" || unix.Statfs(path, &sfs) != nil || sfs.Type != unix.TMPFS_MAGIC {
		return false
	}
	var r, mine unix.Stat_t
	return unix.Stat(root, &r) == nil && unix.Stat("/", &mine) == nil && (r.Dev != mine.Dev || r.Ino != mine.Ino)
}

// handleFd opens (O_PATH) a watched file by its file handle, through a
// mount of its superblock (s_dev) among the tree's: the mounts of the
// task whose root is root (/proc/PID/root), or criu's for "".
func handleFd(w *images.InotifyWdEntry, root string) (int, error) {
	fh := w.GetFHandle()
	n := int(fh.GetBytes())
	if n > 8*len(fh.GetHandle()) {
		return -1, fmt.Errorf("%w: file handle of %d bytes in %d words", errdefs.ErrBadImage, n, len(fh.GetHandle()))
	}
	b := make([]byte, 0, 8*len(fh.GetHandle()))
	for _, v := range fh.GetHandle() {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	h := unix.NewFileHandle(int32(fh.GetType()), b[:n])
	info := "/proc/self/mountinfo"
	if root != "" {
		info = filepath.Join(filepath.Dir(root), "mountinfo")
	}
	b, err := os.ReadFile(info)
	if err != nil {
		return -1, err
	}
	mounts, err := procfs.ParseMounts(b)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", info, err)
	}
	maj, min := w.GetSDev()>>20, w.GetSDev()&0xfffff
	lastErr := fmt.Errorf("%w: no mount of device %d:%d", errdefs.ErrUnsupported, maj, min)
	for _, m := range mounts {
		if m.Major != maj || m.Minor != min {
			continue
		}
		mfd, err := unix.Open(root+m.Point, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		fd, err := unix.OpenByHandleAt(mfd, h, unix.O_PATH|unix.O_CLOEXEC)
		unix.Close(mfd)
		if err != nil {
			lastErr = fmt.Errorf("file handle on device %d:%d (inode %d): %w", maj, min, w.GetIIno(), os.NewSyscallError("open_by_handle_at", err))
			continue
		}
		return fd, nil
	}
	return -1, lastErr
}
