package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// RemapImage lists the files of files.img that are opened from a ghost
// copy (RemapFilePathEntry, REMAP_TYPE_GHOST).
const RemapImage = "remap-fpath.img"

// Set collects, for one dump, the files opened by path: mapped files
// shared by path and flags, and the ghosts (files and directories
// deleted while open) with their remaps. The orchestrator holds one for
// the whole tree.
type Set struct {
	remaps []*images.RemapFilePathEntry
	ghosts []*ghost
	byIno  map[[2]uint64]uint32 // ghost id by (dev, ino)
	byKey  map[string]uint32    // mapped files: path + flags
	// LinkRemap links a file deleted while open that keeps a link
	// elsewhere back at dump, as CRIU's --link-remap (linkRemap);
	// without it such a file is refused.
	LinkRemap bool
	// GhostLimit is the most data a ghost may hold (criu dump
	// --ghost-limit, CRIU's default DefaultGhostLimit); a ghost with
	// more is refused.
	GhostLimit int64
	// TreePid gives a task's or thread's pid in the tree by its pid in
	// criu's pid namespace (false: not of the tree), to refuse a /proc
	// file named by a pid that restore does not keep (checkProcPid).
	TreePid func(pid int) (int, bool)
	// OwnMounts: the tree's mount namespace is its own, dumped, and
	// made again by restore (checkGhostReadOnly).
	OwnMounts bool
	links     []string // the links made, for RemoveLinks
	linked    []*images.FileEntry
	mounts    map[string]map[int]procfs.MountInfo // mounts by id, by /proc/PID (mountedAt)
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{byIno: map[[2]uint64]uint32{}, byKey: map[string]uint32{}, GhostLimit: DefaultGhostLimit}
}

func regKeyOf(path string, flags uint32) string { return fmt.Sprintf("%s\x00%d", path, flags) }

// AddReg records a file opened by path (a regular file, directory or
// non-terminal device). link is a /proc magic link to the open file, used
// to stat it and, when it has been unlinked, to copy its contents. next
// hands out file ids. The entry to append to files.img is returned, or
// nil when an earlier entry of the same path and flags (at pos 0) is
// shared.
func (f *Set) AddReg(next func() uint32, path, link string, flags uint32, pos int64) (uint32, *images.FileEntry, error) {
	key := regKeyOf(path, flags)
	if pos == 0 {
		if id, ok := f.byKey[key]; ok {
			return id, nil, nil
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(link, &st); err != nil {
		return 0, nil, fmt.Errorf("stat %s: %w", link, os.NewSyscallError("stat", err))
	}
	if err := checkProcPid(path, link, f.TreePid); err != nil {
		return 0, nil, err
	}
	dead, err := procGone(path, link)
	if err != nil {
		return 0, nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		// A file made with O_TMPFILE keeps the flag, which holds
		// O_DIRECTORY, in its f_flags: opened with it, it would be
		// refused as no directory.
		flags &^= unix.O_TMPFILE
	}
	id := next()
	if dead != 0 {
		f.remaps = append(f.remaps, &images.RemapFilePathEntry{OrigId: proto.Uint32(id), RemapId: proto.Uint32(uint32(dead)), RemapType: images.RemapType_PROCFS.Enum()})
	}
	reg := &images.RegFileEntry{
		Id: proto.Uint32(id), Flags: proto.Uint32(flags), Pos: proto.Uint64(uint64(pos)),
		Fown: &images.FownEntry{Uid: proto.Uint32(0), Euid: proto.Uint32(0), Signum: proto.Uint32(0), PidType: proto.Uint32(0), Pid: proto.Uint32(0)},
		Name: proto.String(path), Mode: proto.Uint32(st.Mode),
	}
	if mnt, ok := mountOf(link); ok {
		if err := f.mountedAt(link, mnt); err != nil {
			return 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		reg.MntId = proto.Int32(int32(mnt))
	}
	if err := f.checkCovered(path, link, &st); err != nil {
		return 0, nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		// Only a regular file's size is recorded, as CRIU does: CRIU's
		// restore compares it with the file's, whatever the file is.
		reg.Size = proto.Uint64(uint64(st.Size))
	}
	e := &images.FileEntry{Type: images.FdTypes_REG.Enum(), Id: proto.Uint32(id), Reg: reg}
	if pos == 0 {
		f.byKey[key] = id
	}
	if err := checkLinked(path, link, &st); err != nil {
		if !f.LinkRemap {
			return 0, nil, err
		}
		if err := f.linkRemap(next, id, path, link); err != nil {
			return 0, nil, err
		}
		return id, e, nil
	}
	var pts unix.Statfs_t
	// A slave of a pty whose master was closed has no node any more,
	// nor ever will: no ghost (package tty restores it hung up).
	hung := unix.Statfs(link, &pts) == nil && pts.Type == unix.DEVPTS_SUPER_MAGIC
	if st.Nlink == 0 && ghostKind(st.Mode) && !hung {
		// Restore makes the ghost at its path: on a read-only mount,
		// one it can make writable meanwhile, as CRIU 4.2.
		if err := f.checkGhostReadOnly(path, link); err != nil {
			return 0, nil, err
		}
		k := [2]uint64{st.Dev, st.Ino}
		gid, ok := f.byIno[k]
		if !ok {
			if err := overGhostLimit(path, st.Blocks, f.GhostLimit); err != nil {
				return 0, nil, err
			}
			if err := checkIflags(path, link, st.Mode); err != nil {
				return 0, nil, err
			}
			gid = next()
			f.byIno[k] = gid
			f.ghosts = append(f.ghosts, &ghost{id: gid, link: link, st: st})
		}
		f.remaps = append(f.remaps, &images.RemapFilePathEntry{
			OrigId: proto.Uint32(id), RemapId: proto.Uint32(gid), RemapType: images.RemapType_GHOST.Enum(),
		})
	}
	return id, e, nil
}

// ForImage is e as files.img holds it: a regular file's mount id only
// when the tree's mount namespace is dumped (ownMntns), as CRIU writes
// it; CRIU 4.2's restore of a ghost in criu's own namespace fails on
// one ("Can't link ... .cr.N.ghost"). e is changed in place.
func ForImage(e *images.FileEntry, ownMntns bool) *images.FileEntry {
	if r := e.GetReg(); r != nil && !ownMntns {
		r.MntId = nil
	}
	return e
}

// mountOf is the mount id of the file open at link, an fd's
// /proc/PID/fd/N (its fdinfo's mnt_id, as CRIU records it: CRIU's
// restore finds a container's ghost file's mount by it); false for
// other links (a mapping's map_files).
func mountOf(link string) (int, bool) {
	dir, fd, ok := strings.Cut(link, "/fd/")
	if !ok || !strings.HasPrefix(dir, "/proc/") {
		return 0, false
	}
	f, err := os.Open(dir + "/fdinfo/" + fd)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	fi, err := procfs.ParseFdinfo(f)
	if err != nil {
		return 0, false
	}
	return fi.MntID, true
}

// mountedAt refuses the file open at link, an fd's /proc/PID/fd/N,
// whose mount mnt is in no mount table, the task's nor criu's (a file
// opened before the task's mount namespace was copied is on criu's): a
// mount lazily unmounted (umount2 MNT_DETACH) while the file was open,
// which no path leads to any more (its fd's path is from that mount's
// root), as CRIU 4.2 refuses it ("Can't lookup mount"). Not checked:
// criu's own fds (files passed in flight: the tree's mounts, not
// criu's), and the fds of a task whose root is not criu's: one that
// chroot()ed, whose mountinfo lists only the mounts below its root, and
// a pivot_root'ed container's, whose files on mounts outside its
// namespace package mntns refuses by name (CheckFiles).
func (f *Set) mountedAt(link string, mnt int) error {
	dir, _, _ := strings.Cut(link, "/fd/")
	self := fmt.Sprintf("/proc/%d", os.Getpid())
	if dir == self || dir == "/proc/self" || !criuRoot(dir) {
		return nil
	}
	for _, d := range []string{dir, self} {
		ids, err := f.mountIDs(d)
		if err != nil {
			return err
		}
		if _, ok := ids[mnt]; ok {
			return nil
		}
	}
	return fmt.Errorf("%w: a file on mount %d, which is in neither the task's mount table nor criu's (lazily unmounted, MNT_DETACH, while the file was open, or of another mount namespace): no path from the tree's root leads to it", errdefs.ErrUnsupported, mnt)
}

// mountIDs are the mounts /proc/PID dir's mountinfo lists, by id, read
// once.
func (f *Set) mountIDs(dir string) (map[int]procfs.MountInfo, error) {
	if ids, ok := f.mounts[dir]; ok {
		return ids, nil
	}
	b, err := os.ReadFile(dir + "/mountinfo")
	if err != nil {
		return nil, err
	}
	ms, err := procfs.ParseMountInfo(b)
	if err != nil {
		return nil, fmt.Errorf("%s/mountinfo: %w", dir, err)
	}
	ids := map[int]procfs.MountInfo{}
	for _, m := range ms {
		ids[m.ID] = m
	}
	if f.mounts == nil {
		f.mounts = map[string]map[int]procfs.MountInfo{}
	}
	f.mounts[dir] = ids
	return ids, nil
}

// criuRoot reports whether the task of /proc/PID dir has criu's root
// directory as its root.
func criuRoot(dir string) bool {
	var mine, its unix.Stat_t
	return unix.Stat("/", &mine) == nil && unix.Stat(dir+"/root", &its) == nil && mine.Dev == its.Dev && mine.Ino == its.Ino
}

// ghostKind reports whether a file of mode that was deleted while open
// is kept as a ghost: a regular file (with its bytes), a directory, a
// fifo (its bytes are the fifo's, package pipes'), a device node (its
// device number), a symlink held by an O_PATH|O_NOFOLLOW fd (its
// target), as CRIU.
func ghostKind(mode uint32) bool {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK, unix.S_IFLNK:
		return true
	}
	return false
}

// checkLinked refuses a regular file (or a fifo) deleted while open (its link, an
// fd's or a mapping's, says "(deleted)") that still has links elsewhere
// (hard links, or the file renamed over keeping another name): restore
// would open another file at its path, or none. CRIU 4.2 refuses it too
// unless given --link-remap, which links it back at dump
// (REMAP_TYPE_LINKED, Set.LinkRemap).
func checkLinked(path, link string, st *unix.Stat_t) error {
	if st.Nlink == 0 || (st.Mode&unix.S_IFMT != unix.S_IFREG && st.Mode&unix.S_IFMT != unix.S_IFIFO) {
		return nil
	}
	if target, err := os.Readlink(link); err != nil || !strings.HasSuffix(target, " (deleted)") {
		return nil
	}
	return fmt.Errorf("%w: %s was deleted while open, and the file has %d link(s) elsewhere (dump with --link-remap to link it back)", errdefs.ErrUnsupported, path, st.Nlink)
}

// Unshare makes the next AddReg of path and flags a description of its
// own: a regular-file fd gets one even at pos 0, which later files of
// the same path (mappings) do not share.
func (f *Set) Unshare(path string, flags uint32) {
	delete(f.byKey, regKeyOf(path, flags))
}

// Ghost reports whether the file of device dev (as stat gives it) and
// inode ino is a ghost of the dump.
func (f *Set) Ghost(dev, ino uint64) bool {
	_, ok := f.byIno[[2]uint64{dev, ino}]
	return ok
}

// WriteRemaps writes remap-fpath.img when a file is a ghost.
func (f *Set) WriteRemaps(ctx context.Context, s image.Store) error {
	if len(f.remaps) == 0 {
		return nil
	}
	var rm []proto.Message
	for _, e := range f.remaps {
		rm = append(rm, e)
	}
	return image.WriteImage(ctx, s, RemapImage, rm...)
}

// ReadFiles reads files.img, by file id. A tun file has CRIU's
// reg_file_entry of the same id beside it (its flags): kept in the tun
// file's entry.
func ReadFiles(ctx context.Context, s image.Store) (map[uint32]*images.FileEntry, error) {
	fes, err := image.ReadAll(ctx, s, "files.img", func() proto.Message { return &images.FileEntry{} })
	if err != nil {
		return nil, err
	}
	out := map[uint32]*images.FileEntry{}
	for _, m := range fes {
		f := m.(*images.FileEntry)
		if old := out[f.GetId()]; old != nil && old.GetType() == images.FdTypes_TUNF && f.GetType() == images.FdTypes_REG {
			old.Reg = f.GetReg()
			continue
		} else if old != nil && old.GetType() == images.FdTypes_REG && f.GetType() == images.FdTypes_TUNF {
			f.Reg = old.GetReg()
		}
		out[f.GetId()] = f
	}
	return out, nil
}

// ReadRemaps reads remap-fpath.img (none: no remap): the ghost id of
// each file that has a ghost, by file id, and the id of the file each
// file is linked back from (REMAP_TYPE_LINKED, which CRIU's dump with
// --link-remap makes: a hard link to a file deleted while open, in its
// directory), by file id, and the pid of the exited task whose /proc
// file each file is (REMAP_TYPE_PROCFS, procGone), by file id. Other
// remap types are refused.
func ReadRemaps(ctx context.Context, s image.Store) (ghosts, linked, dead map[uint32]uint32, err error) {
	ghosts, linked, dead = map[uint32]uint32{}, map[uint32]uint32{}, map[uint32]uint32{}
	rms, err := image.ReadAll(ctx, s, RemapImage, func() proto.Message { return &images.RemapFilePathEntry{} })
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, err
	}
	for _, m := range rms {
		r := m.(*images.RemapFilePathEntry)
		switch r.GetRemapType() {
		case images.RemapType_GHOST:
			ghosts[r.GetOrigId()] = r.GetRemapId()
		case images.RemapType_LINKED:
			linked[r.GetOrigId()] = r.GetRemapId()
		case images.RemapType_PROCFS:
			if r.GetRemapId() == 0 || r.GetRemapId() > 1<<22 {
				return nil, nil, nil, fmt.Errorf("%w: %s: file %d of dead task %d", errdefs.ErrBadImage, RemapImage, r.GetOrigId(), r.GetRemapId())
			}
			dead[r.GetOrigId()] = r.GetRemapId()
		default:
			return nil, nil, nil, fmt.Errorf("%w: remap type %v", errdefs.ErrUnsupported, r.GetRemapType())
		}
	}
	return ghosts, linked, dead, nil
}

// RegKey is CRIU's name of a regular file for --inherit-fd: its path
// without the leading slash.
func RegKey(reg *images.RegFileEntry) string {
	return strings.TrimPrefix(reg.GetName(), "/")
}

// OpenFlags are the flags restore opens regular file entry reg with:
// its saved file status flags without the creating ones (O_CREAT,
// O_TRUNC, O_EXCL: the file exists) and without O_TMPFILE, which CRIU
// 4.2 keeps in the images of a file made with it and whose O_DIRECTORY
// would refuse the open of a file.
func OpenFlags(reg *images.RegFileEntry) int {
	flags := int(reg.GetFlags()) &^ (unix.O_CREAT | unix.O_TRUNC | unix.O_EXCL)
	if flags&(unix.O_TMPFILE&^unix.O_DIRECTORY) != 0 {
		flags &^= unix.O_TMPFILE
	}
	return flags
}
