package fsnotify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// fanPermEvents are the permission event bits (FAN_OPEN_PERM,
// FAN_ACCESS_PERM, FAN_OPEN_EXEC_PERM, FAN_PRE_ACCESS): a group with
// them makes the watched opens wait for its answer, restore's own too.
const fanPermEvents = unix.FAN_OPEN_PERM | unix.FAN_ACCESS_PERM | unix.FAN_OPEN_EXEC_PERM | 0x00100000

// AddFanotify records the fanotify file at fd of task pid as file id
// (paths as the task sees them: viewOf, root the tree's root task):
// its group's init flags and event flags, and each mark (an inode mark
// with its file handle and the path the handle opens, a mount mark with
// its mount point, a filesystem mark as a mount mark on a mount of it
// flagged FAN_MARK_FILESYSTEM). Mount namespace marks, which CRIU's
// image cannot hold, filesystem marks no mount of the task's namespace
// is of, marks on files no path leads to, and permission events are
// refused by name.
func AddFanotify(pid, root, fd int, id, flags uint32) (*images.FileEntry, error) {
	g, err := procfs.ReadFanotify(pid, fd)
	if err != nil {
		return nil, err
	}
	view := viewOf(pid, root)
	e := &images.FanotifyFileEntry{
		Id: proto.Uint32(id), Flags: proto.Uint32(flags), Fown: image.ZeroFown(),
		Faflags: proto.Uint32(g.Flags), Evflags: proto.Uint32(g.EventFlags),
	}
	var mounts []procfs.Mount
	for _, m := range g.Marks {
		if (m.Mask|m.IgnoredMask)&fanPermEvents != 0 {
			return nil, fmt.Errorf("%w: fanotify mark %q: permission events (restore's own opens would wait for the answer)", errdefs.ErrUnsupported, m.Line)
		}
		if mounts == nil {
			if mounts, err = procfs.ReadMounts(view); err != nil {
				return nil, err
			}
		}
		me := &images.FanotifyMarkEntry{
			Id: proto.Uint32(id), Mflags: proto.Uint32(m.MFlags), Mask: proto.Uint32(m.Mask),
			IgnoredMask: proto.Uint32(m.IgnoredMask), SDev: proto.Uint32(m.Sdev),
		}
		switch m.Kind {
		case procfs.FanotifyInode:
			if m.Handle == nil {
				return nil, fmt.Errorf("%w: fanotify mark %q: no file handle shown (CONFIG_EXPORTFS)", errdefs.ErrUnsupported, m.Line)
			}
			if len(m.Handle) > fhWords*8 {
				return nil, fmt.Errorf("%w: fanotify mark on inode %d: file handle of %d bytes", errdefs.ErrUnsupported, m.Ino, len(m.Handle))
			}
			w := procfs.InotifyWatch{Ino: m.Ino, Sdev: m.Sdev, HandleType: m.HandleType, Handle: m.Handle}
			path, err := watchPath(procfs.Path(view, "root"), mounts, w)
			var np *noPathError
			if errors.As(err, &np) {
				return nil, fmt.Errorf("%w: fanotify mark on inode %d: %s", errdefs.ErrUnsupported, m.Ino, np.Error())
			}
			if err != nil {
				return nil, fmt.Errorf("fanotify mark on inode %d: %w", m.Ino, err)
			}
			words := make([]uint64, fhWords)
			pad := make([]byte, fhWords*8)
			copy(pad, m.Handle)
			for i := range words {
				words[i] = binary.LittleEndian.Uint64(pad[i*8:])
			}
			me.Type = images.MarkType_INODE.Enum()
			me.Ie = &images.FanotifyInodeMarkEntry{IIno: proto.Uint64(m.Ino), FHandle: &images.FhEntry{
				Bytes: proto.Uint32(uint32(len(m.Handle))), Type: proto.Uint32(uint32(m.HandleType)),
				Handle: words, Path: proto.String(path),
			}}
		case procfs.FanotifyMount:
			var point string
			for _, mt := range mounts {
				if mt.ID == m.MntID {
					point = mt.Point
					me.SDev = proto.Uint32(mt.Major<<20 | mt.Minor)
				}
			}
			if point == "" {
				return nil, fmt.Errorf("%w: fanotify mount mark: mount %d is not in the task's mount namespace", errdefs.ErrUnsupported, m.MntID)
			}
			me.Type = images.MarkType_MOUNT.Enum()
			me.Me = &images.FanotifyMountMarkEntry{MntId: proto.Uint32(uint32(m.MntID)), Path: proto.String(point)}
		case procfs.FanotifySb:
			// CRIU's image has no filesystem mark type (CRIU 4.2
			// drops these marks at its dump): saved as a mount mark
			// on a mount of the filesystem, with FAN_MARK_FILESYSTEM
			// among its mark flags, which crit decodes as any flags.
			// Restore marks the filesystem at that mount point; CRIU
			// 4.2 passes the flags to fanotify_mark with
			// FAN_MARK_MOUNT, which the kernel refuses (EINVAL), so
			// its restore fails rather than lose the mark.
			for _, mt := range mounts {
				if mt.Major<<20|mt.Minor == m.Sdev && me.Me == nil {
					me.Me = &images.FanotifyMountMarkEntry{MntId: proto.Uint32(uint32(mt.ID)), Path: proto.String(mt.Point)}
				}
			}
			if me.Me == nil {
				return nil, fmt.Errorf("%w: fanotify filesystem mark (FAN_MARK_FILESYSTEM) on device %d:%d, which no mount of the task's mount namespace is of", errdefs.ErrUnsupported, m.Sdev>>20, m.Sdev&0xfffff)
			}
			me.Type = images.MarkType_MOUNT.Enum()
			me.Mflags = proto.Uint32(m.MFlags | unix.FAN_MARK_FILESYSTEM)
		default:
			return nil, fmt.Errorf("%w: fanotify mount namespace mark (FAN_MARK_MNTNS) on namespace %d: CRIU's image has no such mark", errdefs.ErrUnsupported, m.MntNs)
		}
		e.Mark = append(e.Mark, me)
	}
	return &images.FileEntry{Type: images.FdTypes_FANOTIFY.Enum(), Id: proto.Uint32(id), Ffy: e}, nil
}

// OpenFanotify creates the fanotify file f describes in the restorer:
// fanotify_init with the dumped flags and event flags, each mark added
// back by path with its flags, mask and ignored mask, then the file
// status flags. root is the root of the tree's root task
// ("/proc/PID/root"): a mark goes on the file or the mount at its path
// there, in the tree's mount namespace.
func OpenFanotify(f *images.FileEntry, root string) (fd int, err error) {
	e := f.GetFfy()
	// FAN_CLOEXEC is one of the group's flags, shown in fdinfo: the
	// group gets the dumped flags only, and the restorer's fd its
	// close-on-exec apart (under ForkLock, so no child inherits it).
	syscall.ForkLock.RLock()
	fd, err = unix.FanotifyInit(uint(e.GetFaflags()), uint(e.GetEvflags()))
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, os.NewSyscallError("fanotify_init", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}()
	// The kernel shows the newest mark first: added back from the
	// last, they show in the dumped order.
	ms := e.GetMark()
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		var path string
		var where uint
		switch m.GetType() {
		case images.MarkType_INODE:
			path = m.GetIe().GetFHandle().GetPath()
			if path == "" {
				return fd, fmt.Errorf("%w: fanotify mark on inode %d known by its handle only", errdefs.ErrUnsupported, m.GetIe().GetIIno())
			}
			path = root + path
			var st unix.Stat_t
			if err := unix.Lstat(path, &st); err != nil {
				return fd, fmt.Errorf("fanotify mark: %w", os.NewSyscallError("lstat "+path, err))
			}
			if !sameInode(path, &st, m.GetIe().GetIIno(), root) {
				return fd, fmt.Errorf("%w: fanotify mark: %s is inode %d now, was %d", errdefs.ErrBadImage, path, st.Ino, m.GetIe().GetIIno())
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				where = unix.FAN_MARK_DONT_FOLLOW
			}
		case images.MarkType_MOUNT:
			path = m.GetMe().GetPath()
			if path == "" {
				return fd, fmt.Errorf("%w: fanotify mount mark on mount %d without a path", errdefs.ErrUnsupported, m.GetMe().GetMntId())
			}
			where = unix.FAN_MARK_MOUNT
			if m.GetMflags()&unix.FAN_MARK_FILESYSTEM != 0 {
				where = unix.FAN_MARK_FILESYSTEM // AddFanotify: a filesystem mark
			}
			if root != "" {
				path = filepath.Join(root, path)
			}
		default:
			return fd, fmt.Errorf("%w: fanotify mark of type %v", errdefs.ErrBadImage, m.GetType())
		}
		mflags := uint(m.GetMflags())
		evictable := mflags & unix.FAN_MARK_EVICTABLE
		if m.GetMask() != 0 {
			if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|where|evictable, uint64(m.GetMask()), unix.AT_FDCWD, path); err != nil {
				return fd, fmt.Errorf("fanotify mark on %s: %w", path, os.NewSyscallError("fanotify_mark", err))
			}
		}
		if m.GetIgnoredMask() != 0 || mflags&unix.FAN_MARK_IGNORE != 0 {
			ign := uint(unix.FAN_MARK_IGNORED_MASK)
			if mflags&unix.FAN_MARK_IGNORE != 0 {
				ign = unix.FAN_MARK_IGNORE
			}
			fl := unix.FAN_MARK_ADD | where | evictable | ign | mflags&unix.FAN_MARK_IGNORED_SURV_MODIFY
			if err := unix.FanotifyMark(fd, uint(fl), uint64(m.GetIgnoredMask()), unix.AT_FDCWD, path); err != nil {
				return fd, fmt.Errorf("fanotify ignored mask on %s: %w", path, os.NewSyscallError("fanotify_mark", err))
			}
		}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(e.GetFlags()&^unix.O_ACCMODE)); err != nil {
		return fd, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return fd, nil
}

// fanEventHdr is the size of struct fanotify_event_metadata's fixed
// part: event_len u32, vers u8, reserved u8, metadata_len u16, mask u64,
// fd s32, pid s32.
const fanEventHdr = 24

// DrainFanotify reads away the events queued on the restored fanotify
// file fd (file id) while the tree was restored, closing the event fds
// they brought into the restorer.
func DrainFanotify(fd int, id uint32) error {
	return drain(fd, "fanotify", id, func(b []byte) error {
		for len(b) >= fanEventHdr {
			l := int(binary.LittleEndian.Uint32(b))
			if l < fanEventHdr || l > len(b) {
				return fmt.Errorf("event of %d bytes in %d", l, len(b))
			}
			if efd := int32(binary.LittleEndian.Uint32(b[16:])); efd >= 0 {
				unix.Close(int(efd))
			}
			b = b[l:]
		}
		return nil
	})
}

// OpenFile creates the inotify (Open) or fanotify (OpenFanotify) file f
// describes.
func OpenFile(f *images.FileEntry, ghosts map[[2]uint64]string, root string) (int, error) {
	if f.GetType() == images.FdTypes_FANOTIFY {
		return OpenFanotify(f, root)
	}
	return Open(f, ghosts, root)
}

// DrainFiles drains each restored inotify (Drain) or fanotify
// (DrainFanotify) file among masters (fd by file id, its entry in files);
// other files are left alone.
func DrainFiles(masters map[uint32]int, files map[uint32]*images.FileEntry) error {
	for id, fd := range masters {
		var err error
		switch files[id].GetType() {
		case images.FdTypes_INOTIFY:
			err = Drain(fd, id)
		case images.FdTypes_FANOTIFY:
			err = DrainFanotify(fd, id)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
