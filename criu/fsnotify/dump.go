package fsnotify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// fhWords is how many 64-bit words CRIU writes for a file handle
// (fh_entry_sizes min_entries): the handle's bytes, zero-padded.
const fhWords = 16

// Set is the inotify state of a dump: the watches recorded by file handle
// only, checked once every fd of the tree is recorded (Check).
type Set struct {
	handleWatches []handleWatch
}

// Add records the inotify file at fd of task pid as file id, with its
// watches. Each watch keeps its file handle (as CRIU) and the watched
// file's path, found by opening the handle as the task sees it (viewOf;
// root is the tree's root task): restore adds the watch back by path.
func (s *Set) Add(pid, root, fd int, id, flags uint32) (*images.FileEntry, error) {
	ws, err := procfs.ReadInotify(pid, fd)
	if err != nil {
		return nil, err
	}
	view := viewOf(pid, root)
	e := &images.InotifyFileEntry{Id: proto.Uint32(id), Flags: proto.Uint32(flags), Fown: image.ZeroFown()}
	var mounts []procfs.Mount
	for _, w := range ws {
		if len(w.Handle) > fhWords*8 {
			return nil, fmt.Errorf("%w: inotify watch %d: file handle of %d bytes", errdefs.ErrUnsupported, w.Wd, len(w.Handle))
		}
		if mounts == nil {
			if mounts, err = procfs.ReadMounts(view); err != nil {
				return nil, err
			}
		}
		path, err := watchPath(procfs.Path(view, "root"), mounts, w)
		var np *noPathError
		if errors.As(err, &np) {
			// A watched file no path leads to (deleted, or moved away
			// from the name the handle shows): as CRIU, the image keeps
			// its handle only. Restore watches the ghost copy of it
			// that the tree's own fds get (a deleted file or directory
			// still open, or a cwd), or else opens the handle.
			// checkHandleWatches refuses the others on file systems
			// whose handles do not outlive the inode (tmpfs).
			s.handleWatches = append(s.handleWatches, handleWatch{
				pid: pid, fd: fd, wd: w.Wd, sdev: w.Sdev, ino: w.Ino, tmpfs: np.tmpfs, why: np.Error()})
			path, err = "", nil
		}
		if err != nil {
			return nil, fmt.Errorf("inotify watch %d (inode %d): %w", w.Wd, w.Ino, err)
		}
		words := make([]uint64, fhWords)
		pad := make([]byte, fhWords*8)
		copy(pad, w.Handle)
		for i := range words {
			words[i] = binary.LittleEndian.Uint64(pad[i*8:])
		}
		var pathField *string
		if path != "" {
			pathField = proto.String(path)
		}
		e.Wd = append(e.Wd, &images.InotifyWdEntry{
			Id: proto.Uint32(id), IIno: proto.Uint64(w.Ino), Mask: proto.Uint32(w.Mask),
			IgnoredMask: proto.Uint32(w.IgnoredMask), SDev: proto.Uint32(w.Sdev), Wd: proto.Uint32(uint32(w.Wd)),
			FHandle: &images.FhEntry{
				Bytes: proto.Uint32(uint32(len(w.Handle))), Type: proto.Uint32(uint32(w.HandleType)),
				Handle: words, Path: pathField,
			},
		})
	}
	return &images.FileEntry{Type: images.FdTypes_INOTIFY.Enum(), Id: proto.Uint32(id), Ify: e}, nil
}

// viewOf is the task whose root and mounts the paths of a file at an fd
// of task pid are found through: pid itself, or, for criu's own copy of
// a file passed in flight (SCM_RIGHTS; pid is criu's), root, the tree's
// root task: the file is the tree's, on its mounts (a container's own
// tmpfs is none of criu's). root 0 is none.
func viewOf(pid, root int) int {
	if pid == os.Getpid() && root > 0 {
		return root
	}
	return pid
}

// watchPath finds the path of a watched inode, as the task whose root is
// root (its /proc/PID/root) and whose mounts are mounts sees it: its
// file handle opened through a mount of its superblock, then read back
// from /proc. A container's mounts are reached through its root, not
// criu's (its /tmp is not criu's /tmp).
func watchPath(root string, mounts []procfs.Mount, w procfs.InotifyWatch) (string, error) {
	maj, min := w.Sdev>>20, w.Sdev&0xfffff
	var lastErr error = fmt.Errorf("%w: no mount of device %d:%d", errdefs.ErrUnsupported, maj, min)
	for _, m := range mounts {
		if m.Major != maj || m.Minor != min {
			continue
		}
		path, err := openHandlePath(root, m.Point, w)
		if err == nil {
			return path, nil
		}
		lastErr = err
	}
	return "", lastErr
}

// noPathError: the handle of a watch opens, but no path leads to its
// file.
type noPathError struct {
	path  string // what /proc shows for the opened handle
	tmpfs bool   // on tmpfs or devtmpfs
}

func (e *noPathError) Error() string {
	return fmt.Sprintf("watched file %q has no path", e.path)
}

// handleWatch is a watch recorded by its file handle only.
type handleWatch struct {
	pid, fd, wd int
	sdev        uint32 // kernel encoding, as fdinfo shows
	ino         uint64
	tmpfs       bool
	why         string
}

// Check refuses the watches recorded by handle only that restore cannot
// reach: one whose file is not a ghost of the tree (ghost tells, by
// device and inode; restore watches the ghost copy) on a file system
// whose handles do not outlive its inodes (tmpfs, devtmpfs: as CRIU).
func (s *Set) Check(ghost func(dev, ino uint64) bool) error {
	for _, w := range s.handleWatches {
		dev := unix.Mkdev(w.sdev>>20, w.sdev&0xfffff)
		if ghost(dev, w.ino) {
			continue
		}
		if w.tmpfs {
			return fmt.Errorf("dump %d: %w", w.pid, &errdefs.FdError{Fd: w.fd, Type: "anon_inode:inotify",
				Err: fmt.Errorf("inotify watch %d (inode %d): %w: %s on tmpfs, whose file handles do not outlive the inode", w.wd, w.ino, errdefs.ErrUnsupported, w.why)})
		}
	}
	return nil
}

func openHandlePath(root, mountPoint string, w procfs.InotifyWatch) (string, error) {
	// Not O_PATH: open_by_handle_at takes no O_PATH mount fd.
	mfd, err := unix.Open(root+mountPoint, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open mount %s: %w", mountPoint, os.NewSyscallError("open", err))
	}
	defer unix.Close(mfd)
	fd, err := unix.OpenByHandleAt(mfd, unix.NewFileHandle(w.HandleType, w.Handle), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("open file handle on %s: %w", mountPoint, os.NewSyscallError("open_by_handle_at", err))
	}
	defer unix.Close(fd)
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", err
	}
	var sfs unix.Statfs_t
	tmpfs := unix.Fstatfs(fd, &sfs) == nil && sfs.Type == unix.TMPFS_MAGIC
	if strings.HasSuffix(path, " (deleted)") || !strings.HasPrefix(path, "/") {
		return "", &noPathError{path: path, tmpfs: tmpfs}
	}
	// The path must still lead to the watched inode, from the task's root.
	var st unix.Stat_t
	if err := unix.Lstat(root+path, &st); err != nil || st.Ino != w.Ino {
		return "", &noPathError{path: path, tmpfs: tmpfs}
	}
	return path, nil
}
