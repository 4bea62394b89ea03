package restore

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// inotifyAddMask are the bits inotify_add_watch takes back from a
// watch's dumped mask (events and IN_ONESHOT, IN_EXCL_UNLINK...).
const inotifyAddMask = unix.IN_ALL_EVENTS | unix.IN_ONESHOT | unix.IN_EXCL_UNLINK | unix.IN_DONT_FOLLOW | unix.IN_ONLYDIR

// maxWdTries bounds the watches added and removed to reach a dumped
// watch descriptor.
const maxWdTries = 1 << 16

// openInotify creates an inotify file in the restorer and adds its
// watches back by path, each with its dumped watch descriptor: the
// kernel hands out descriptors in increasing order, so a watch is added
// and removed again until it gets its number. Events queued at dump
// time are not in the images; the IN_IGNORED events of the removals are
// read away. The caller sets the file status flags.
func openInotify(e *images.InotifyFileEntry) (fd int, err error) {
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
		if path == "" {
			// CRIU's images name the file by its handle only.
			p, err := handlePath(w)
			if err != nil {
				return fd, fmt.Errorf("inotify watch %d: %w", w.GetWd(), err)
			}
			path = p
		}
		mask := w.GetMask() & inotifyAddMask
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return fd, fmt.Errorf("inotify watch %d: %w", w.GetWd(), os.NewSyscallError("lstat "+path, err))
		}
		if st.Ino != w.GetIIno() {
			return fd, fmt.Errorf("%w: inotify watch %d: %s is inode %d now, was %d", ErrBadImage, w.GetWd(), path, st.Ino, w.GetIIno())
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			mask |= unix.IN_DONT_FOLLOW
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
				return fd, fmt.Errorf("%w: inotify watch %d on %s got descriptor %d (two watches on one inode?)", ErrBadImage, want, path, got)
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

// handlePath finds the path of a watched file from its file handle,
// opened through a mount of its superblock (s_dev).
func handlePath(w *images.InotifyWdEntry) (string, error) {
	fh := w.GetFHandle()
	n := int(fh.GetBytes())
	if n > 8*len(fh.GetHandle()) {
		return "", fmt.Errorf("%w: file handle of %d bytes in %d words", ErrBadImage, n, len(fh.GetHandle()))
	}
	b := make([]byte, 0, 8*len(fh.GetHandle()))
	for _, v := range fh.GetHandle() {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	h := unix.NewFileHandle(int32(fh.GetType()), b[:n])
	mounts, err := procfs.ReadMounts(os.Getpid())
	if err != nil {
		return "", err
	}
	maj, min := w.GetSDev()>>20, w.GetSDev()&0xfffff
	for _, m := range mounts {
		if m.Major != maj || m.Minor != min {
			continue
		}
		mfd, err := unix.Open(m.Point, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		fd, err := unix.OpenByHandleAt(mfd, h, unix.O_PATH|unix.O_CLOEXEC)
		unix.Close(mfd)
		if err != nil {
			continue
		}
		path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		unix.Close(fd)
		if err == nil && strings.HasPrefix(path, "/") && !strings.HasSuffix(path, " (deleted)") {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: no path for the file handle on device %d:%d", ErrUnsupported, maj, min)
}
