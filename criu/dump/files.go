package dump

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/shmem"
	"github.com/criugo/criu/criu/tty"
	"github.com/criugo/criu/proto/images"
)

// ghost is the content of a file that was deleted while still open or
// mapped; restore recreates it, opens it, and unlinks it again.
type ghost struct {
	id   uint32
	link string // /proc path to read the content from
	st   unix.Stat_t
}

// fileSet numbers the open file descriptions and mapped files.
type fileSet struct {
	next    uint32
	entries []*images.FileEntry
	remaps  []*images.RemapFilePathEntry
	ghosts  []*ghost
	byIno   map[[2]uint64]uint32 // ghost id by (dev, ino)
	byKey   map[string]uint32    // mapped files: path + flags
	// descs are the fds recorded so far by (dev, ino), to find an open
	// file description shared by several fds (dup, fork) with kcmp.
	descs map[[2]uint64][]fdRef
}

// fdRef is one recorded fd and the file entry it got.
type fdRef struct {
	pid, fd int
	id      uint32
	typ     images.FdTypes
}

func newFileSet(first uint32) *fileSet {
	return &fileSet{next: first, byIno: map[[2]uint64]uint32{}, byKey: map[string]uint32{}, descs: map[[2]uint64][]fdRef{}}
}

func (f *fileSet) id() uint32 {
	f.next++
	return f.next - 1
}

// addReg records a file opened by path (a regular file, directory or
// non-terminal device). link is a /proc magic link to the open file, used
// to stat it and, when it has been unlinked, to copy its contents.
func (f *fileSet) addReg(path, link string, flags uint32, pos int64) (uint32, error) {
	key := fmt.Sprintf("%s\x00%d", path, flags)
	if pos == 0 {
		if id, ok := f.byKey[key]; ok {
			return id, nil
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(link, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", link, os.NewSyscallError("stat", err))
	}
	id := f.id()
	reg := &images.RegFileEntry{
		Id: proto.Uint32(id), Flags: proto.Uint32(flags), Pos: proto.Uint64(uint64(pos)),
		Fown: &images.FownEntry{Uid: proto.Uint32(0), Euid: proto.Uint32(0), Signum: proto.Uint32(0), PidType: proto.Uint32(0), Pid: proto.Uint32(0)},
		Name: proto.String(path), Size: proto.Uint64(uint64(st.Size)), Mode: proto.Uint32(st.Mode),
	}
	f.entries = append(f.entries, &images.FileEntry{Type: images.FdTypes_REG.Enum(), Id: proto.Uint32(id), Reg: reg})
	if pos == 0 {
		f.byKey[key] = id
	}
	if st.Nlink == 0 && (st.Mode&unix.S_IFMT == unix.S_IFREG || st.Mode&unix.S_IFMT == unix.S_IFDIR) {
		k := [2]uint64{st.Dev, st.Ino}
		gid, ok := f.byIno[k]
		if !ok {
			gid = f.id()
			f.byIno[k] = gid
			f.ghosts = append(f.ghosts, &ghost{id: gid, link: link, st: st})
		}
		f.remaps = append(f.remaps, &images.RemapFilePathEntry{
			OrigId: proto.Uint32(id), RemapId: proto.Uint32(gid), RemapType: images.RemapType_GHOST.Enum(),
		})
	}
	return id, nil
}

// fsDir reads the task's cwd or root ("cwd", "root") as a path from
// criu's root, which restore opens (and chroots into) as it is. A
// directory that the path does not lead to (a root or cwd in another
// mount namespace, such as a pivot_root'ed container's whose old root
// was detached: the kernel then shows it relative to that namespace's
// root) cannot be restored until mount namespaces are checkpointed, and
// is refused by name.
func (d *dumper) fsDir(which string) (string, error) {
	link := procfs.Path(d.pid, which)
	path, err := os.Readlink(link)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", link, err)
	}
	var want, got unix.Stat_t
	if err := unix.Stat(link, &want); err != nil {
		return "", fmt.Errorf("stat %s: %w", link, os.NewSyscallError("stat", err))
	}
	if p, ok := strings.CutSuffix(path, " (deleted)"); ok {
		if which != "cwd" {
			return "", fmt.Errorf("dump %d: its %s %s: %w: a deleted directory", d.pid, which, path, ErrUnsupported)
		}
		// A ghost directory (addReg), made again at restore.
		return p, nil
	}
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("dump %d: its %s %q %w", d.pid, which, path, ErrUnreachable)
	}
	if err := unix.Stat(path, &got); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		return "", fmt.Errorf("dump %d: its %s %s (device %d:%d inode %d) %w", d.pid, which, path,
			unix.Major(want.Dev), unix.Minor(want.Dev), want.Ino, ErrUnreachable)
	}
	return path, nil
}

// collectFds records every open fd of the task.
func (d *dumper) collectFds() ([]*images.FdinfoEntry, error) {
	fds, err := procfs.Fds(d.pid)
	if err != nil {
		return nil, fmt.Errorf("list fds of %d: %w", d.pid, err)
	}
	var out []*images.FdinfoEntry
	locked := map[int]procfs.Fdinfo{} // fds whose fdinfo shows locks
	var ferr error                    // set by record
	for _, fd := range fds {
		if ferr != nil {
			return nil, ferr
		}
		if d.t.inc.skipFd(d.pid, fd) {
			continue // a memory-tracking uffd of ours (incremental.go)
		}
		link := procfs.Path(d.pid, fmt.Sprintf("fd/%d", fd))
		target, err := os.Readlink(link)
		if err != nil {
			return nil, &FdError{Fd: fd, Type: "?", Err: err}
		}
		fi, err := procfs.ReadFdinfo(d.pid, fd)
		if err != nil {
			return nil, &FdError{Fd: fd, Type: target, Err: err}
		}
		if len(fi.LockLines) > 0 {
			locked[fd] = fi
		}
		var st unix.Stat_t
		if err := unix.Stat(link, &st); err != nil {
			return nil, &FdError{Fd: fd, Type: target, Err: os.NewSyscallError("stat", err)}
		}
		cloexec := uint32(0)
		if fi.Flags&unix.O_CLOEXEC != 0 {
			cloexec = unix.FD_CLOEXEC
		}
		flags := fi.Flags &^ unix.O_CLOEXEC
		mode := st.Mode & unix.S_IFMT
		// The same open file description as an fd already recorded?
		dk := [2]uint64{st.Dev, st.Ino}
		if ref, ok, err := d.files.sameDesc(dk, d.pid, fd); err != nil {
			return nil, &FdError{Fd: fd, Type: target, Err: err}
		} else if ok {
			out = append(out, &images.FdinfoEntry{Id: proto.Uint32(ref.id), Flags: proto.Uint32(cloexec), Type: ref.typ.Enum(), Fd: proto.Uint32(uint32(fd))})
			continue
		}
		record := func(e *images.FileEntry) {
			if e.GetType() != images.FdTypes_EXT {
				if err := d.setFown(fd, flags, e); err != nil {
					ferr = &FdError{Fd: fd, Type: target, Err: err}
				}
			}
			d.files.entries = append(d.files.entries, e)
			d.files.descs[dk] = append(d.files.descs[dk], fdRef{pid: d.pid, fd: fd, id: e.GetId(), typ: e.GetType()})
			out = append(out, &images.FdinfoEntry{Id: proto.Uint32(e.GetId()), Flags: proto.Uint32(cloexec), Type: e.GetType().Enum(), Fd: proto.Uint32(uint32(fd))})
		}
		kind := ""
		switch {
		case !strings.HasPrefix(target, "/"):
			kind = target // pipe:[..], socket:[..], anon_inode:...
			if i := strings.IndexByte(kind, ':'); i > 0 && !strings.HasPrefix(kind, "anon_inode") {
				kind = kind[:i]
			}
		case mode == unix.S_IFCHR && tty.IsTTY(st.Rdev):
			kind = "tty " + target
		case mode == unix.S_IFIFO:
			kind = "fifo " + target
		case mode == unix.S_IFSOCK:
			kind = "socket " + target
		}
		if strings.HasPrefix(kind, "tty ") && len(d.opts.ExternalTTY) > 0 {
			// A terminal named with --external: restore is given
			// the one that takes its place (package tty).
			if err := d.t.ttys.Scan(); err != nil {
				return nil, err
			}
			if d.t.ttys.External(st.Rdev, st.Dev) {
				fe, err := d.t.ttys.AddExternal(d.ttyFd(fd, &st, flags, fi, target), ttyFiles{d.files})
				if err != nil {
					return nil, &FdError{Fd: fd, Type: kind, Err: err}
				}
				record(fe)
				continue
			}
		}
		if kind == "pipe" && d.opts.ShellJob && fd <= 2 {
			// A stdio pipe whose other end no task of the tree holds
			// comes from the shell's pipeline: it is external.
			other, err := d.t.pipeEndInTree(st.Ino, flags&unix.O_ACCMODE == unix.O_WRONLY)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			if !other {
				kind = "shell pipe"
			}
		}
		if strings.HasPrefix(kind, "fifo ") && !strings.HasSuffix(target, " (deleted)") {
			e, err := d.addFifo(fd, &st, flags, target, link)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: kind, Err: err}
			}
			record(e)
			continue
		}
		if kind == "pipe" {
			e, err := d.addPipe(fd, &st, flags)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			record(e)
			continue
		}
		// A pty whose master the tree holds is its own (package tty), not the shell's.
		ownPty := strings.HasPrefix(kind, "tty") && d.t.ttys.OwnPty(st.Rdev)
		shellStdio := d.opts.ShellJob && fd <= 2 && (strings.HasPrefix(kind, "tty") && !ownPty || kind == "shell pipe" || kind == "socket")
		if !shellStdio && (kind == "socket" || strings.HasPrefix(kind, "anon_inode:[") || kind == "anon_inode:inotify") {
			var e *images.FileEntry
			var err error
			if kind == "socket" {
				e, err = d.addSocket(fd, &st, flags)
			} else {
				e, err = d.addAnon(kind, fd, flags, fi)
			}
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			record(e)
			continue
		}
		if strings.HasPrefix(kind, "tty") && !shellStdio && tty.IsPty(st.Rdev) {
			e, err := d.t.ttys.AddPty(d.ttyFd(fd, &st, flags, fi, target), ttyFiles{d.files})
			if err != nil {
				return nil, &FdError{Fd: fd, Type: kind, Err: err}
			}
			record(e)
			continue
		}
		if kind != "" {
			if shellStdio {
				// Inherited from the shell: the restorer's own fd takes
				// its place. Recorded as a description, so that a dup of
				// it at a higher fd is restored as a dup of this one.
				id := d.files.id()
				record(&images.FileEntry{
					Type: images.FdTypes_EXT.Enum(), Id: proto.Uint32(id),
					Ext: &images.ExtFileEntry{Id: proto.Uint32(id), Fown: zeroFown()},
				})
				continue
			}
			if strings.HasPrefix(kind, "tty") && d.opts.ShellJob {
				return nil, &FdError{Fd: fd, Type: kind, Err: fmt.Errorf("%w: only fds 0-2 on a terminal are taken from the restorer with --shell-job", ErrUnsupported)}
			}
			return nil, &FdError{Fd: fd, Type: kind, Err: ErrUnsupported}
		}
		if shmem.IsMemfd(target) {
			e, err := d.addMemfd(link, target, flags, fi.Pos)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			record(e)
			continue
		}
		path := strings.TrimSuffix(target, " (deleted)")
		id, err := d.files.addReg(path, link, flags, fi.Pos)
		if err != nil {
			return nil, &FdError{Fd: fd, Type: target, Err: err}
		}
		for i := len(d.files.entries) - 1; i >= 0; i-- {
			if e := d.files.entries[i]; e.GetId() == id {
				if err := d.setFown(fd, flags, e); err != nil {
					return nil, &FdError{Fd: fd, Type: target, Err: err}
				}
				break
			}
		}
		// A regular-file fd gets its own description even at pos 0.
		delete(d.files.byKey, fmt.Sprintf("%s\x00%d", path, flags))
		d.files.descs[dk] = append(d.files.descs[dk], fdRef{pid: d.pid, fd: fd, id: id, typ: images.FdTypes_REG})
		out = append(out, &images.FdinfoEntry{Id: proto.Uint32(id), Flags: proto.Uint32(cloexec), Type: images.FdTypes_REG.Enum(), Fd: proto.Uint32(uint32(fd))})
	}
	if ferr != nil {
		return nil, ferr
	}
	for _, e := range out {
		fd := int(e.GetFd())
		if fi, ok := locked[fd]; ok {
			if err := d.t.locks.Add(d.pid, d.vpid, fd, fi, e.GetId(), e.GetType(), d.opts.FileLocks); err != nil {
				return nil, &FdError{Fd: fd, Type: "locked file", Err: err}
			}
		}
	}
	return out, nil
}

// sameDesc finds a recorded fd with the same open file description as fd
// of pid.
func (f *fileSet) sameDesc(k [2]uint64, pid, fd int) (fdRef, bool, error) {
	for _, r := range f.descs[k] {
		same, err := kcmp(pid, r.pid, kcmpFile, fd, r.fd)
		if err != nil {
			return fdRef{}, false, err
		}
		if same {
			return r, true, nil
		}
	}
	return fdRef{}, false, nil
}

// setFown records the owner of the open file at fd (F_SETOWN,
// F_SETOWN_EX: who gets its SIGIO) and its signal (F_SETSIG) in the
// fown of its file entry, as CRIU: the owner's pid as the tree sees it,
// and the uids F_SETOWN recorded with it. An owner outside the tree
// cannot be restored and is refused by name.
func (d *dumper) setFown(fd int, flags uint32, e *images.FileEntry) error {
	if flags&unix.O_PATH != 0 {
		return nil // no owner
	}
	cp, err := getFd(d.pid, fd)
	if err != nil {
		return err
	}
	defer unix.Close(cp)
	sig, err := unix.FcntlInt(uintptr(cp), unix.F_GETSIG, 0)
	if err != nil {
		return os.NewSyscallError("fcntl(F_GETSIG)", err)
	}
	own, uid, euid, err := fileOwner(cp)
	if err != nil {
		return err
	}
	if sig == 0 && own.pid == 0 {
		return nil
	}
	fo := zeroFown()
	fo.Signum = proto.Uint32(uint32(sig))
	if own.pid != 0 {
		vpid, ok := d.t.innerOwner(int(own.typ), int(own.pid))
		if !ok {
			return fmt.Errorf("%w: its owner (F_SETOWN, type %d) %d is outside the dumped tree", ErrUnsupported, own.typ, own.pid)
		}
		fo.Uid, fo.Euid = proto.Uint32(uid), proto.Uint32(euid)
		fo.PidType, fo.Pid = proto.Uint32(uint32(own.typ)), proto.Uint32(uint32(vpid))
	}
	if !setFownOf(e, fo) {
		return fmt.Errorf("%w: an owner or signal (F_SETOWN, F_SETSIG) on a %v file", ErrUnsupported, e.GetType())
	}
	return nil
}

// innerOwner translates an owner of a file (a thread, process or process
// group, by its id in criu's pid namespace) to its id as the tree sees
// it; false if it is not in the tree.
func (t *tree) innerOwner(typ, pid int) (int, bool) {
	for _, d := range t.tasks {
		switch typ {
		case fOwnerTid:
			for _, th := range d.threads {
				if th.tid == pid {
					return th.vtid, true
				}
			}
		case fOwnerPid:
			if d.pid == pid {
				return d.vpid, true
			}
		case fOwnerPgrp:
			if d.stat.Pgrp == pid {
				return d.vpgid, true
			}
		}
	}
	return 0, false
}

// setFownOf sets the fown of the entry of e's type; false for a type
// without one.
func setFownOf(e *images.FileEntry, fo *images.FownEntry) bool {
	switch {
	case e.Reg != nil:
		e.Reg.Fown = fo
	case e.Pipe != nil:
		e.Pipe.Fown = fo
	case e.Usk != nil:
		e.Usk.Fown = fo
	case e.Isk != nil:
		e.Isk.Fown = fo
	case e.Efd != nil:
		e.Efd.Fown = fo
	case e.Sgfd != nil:
		e.Sgfd.Fown = fo
	case e.Tfd != nil:
		e.Tfd.Fown = fo
	case e.Ify != nil:
		e.Ify.Fown = fo
	case e.Epfd != nil:
		e.Epfd.Fown = fo
	case e.Tty != nil:
		e.Tty.Fown = fo
	default:
		return false
	}
	return true
}

func zeroFown() *images.FownEntry {
	return &images.FownEntry{Uid: proto.Uint32(0), Euid: proto.Uint32(0), Signum: proto.Uint32(0), PidType: proto.Uint32(0), Pid: proto.Uint32(0)}
}

// writeGhosts writes ghost-file-ID.img for each deleted file: a
// GhostFileEntry, then the file's bytes.
func (d *dumper) writeGhosts(ctx context.Context) error {
	if err := d.t.inotify.Check(func(dev, ino uint64) bool { _, ok := d.files.byIno[[2]uint64{dev, ino}]; return ok }); err != nil {
		return err
	}
	for _, g := range d.files.ghosts {
		name := fmt.Sprintf("ghost-file-%x.img", g.id)
		if err := d.writeGhost(ctx, name, g); err != nil {
			return err
		}
	}
	return nil
}

func (d *dumper) writeGhost(ctx context.Context, name string, g *ghost) (err error) {
	src, err := os.Open(g.link)
	if err != nil {
		return fmt.Errorf("open deleted file %s: %w", g.link, err)
	}
	defer src.Close()
	w, err := d.store.Create(ctx, name)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	enc, err := image.NewEncoder(w, name)
	if err != nil {
		return err
	}
	// dev in the kernel's encoding (major<<20 | minor), as CRIU, which
	// is how fdinfo names an inotify watch's device.
	e := &images.GhostFileEntry{
		Uid: proto.Uint32(g.st.Uid), Gid: proto.Uint32(g.st.Gid), Mode: proto.Uint32(g.st.Mode),
		Dev: proto.Uint32(unix.Major(g.st.Dev)<<20 | unix.Minor(g.st.Dev)), Ino: proto.Uint64(g.st.Ino),
		Atim: &images.Timeval{TvSec: proto.Uint64(uint64(g.st.Atim.Sec)), TvUsec: proto.Uint64(uint64(g.st.Atim.Nsec / 1000))},
		Mtim: &images.Timeval{TvSec: proto.Uint64(uint64(g.st.Mtim.Sec)), TvUsec: proto.Uint64(uint64(g.st.Mtim.Nsec / 1000))},
	}
	dir := g.st.Mode&unix.S_IFMT == unix.S_IFDIR
	// As CRIU: a file of 3 pages or more is saved as chunks of data
	// (GhostChunkEntry, then its bytes), which keeps its holes.
	chunks := !dir && g.st.Size >= ghostChunksMin
	if chunks {
		e.Chunks = proto.Bool(true)
		e.Size = proto.Uint64(uint64(g.st.Size))
	}
	if err := enc.Encode(e); err != nil {
		return err
	}
	switch {
	case dir:
		// A ghost directory has no contents.
	case chunks:
		if err := writeChunks(enc, w, src, g.st.Size); err != nil {
			return fmt.Errorf("copy deleted file %s: %w", g.link, err)
		}
	default:
		if _, err := io.CopyN(w, src, g.st.Size); err != nil {
			return fmt.Errorf("copy deleted file %s: %w", g.link, err)
		}
	}
	return w.Close()
}

// ghostChunksMin is CRIU's GHOST_CHUNKS_THRESH: smaller ghosts are
// saved raw.
const ghostChunksMin = 3 * 4096

// writeChunks writes the data of the file src of size bytes as chunks,
// found with SEEK_DATA and SEEK_HOLE: a GhostChunkEntry (offset, length)
// then the bytes, for each run of data. A file system without them
// gives one chunk of the whole file.
func writeChunks(enc *image.Encoder, w io.Writer, src *os.File, size int64) error {
	fd := int(src.Fd())
	for hole := int64(0); hole < size; {
		data, err := unix.Seek(fd, hole, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // only a hole is left
		}
		if err != nil {
			if hole != 0 {
				return os.NewSyscallError("lseek(SEEK_DATA)", err)
			}
			data, hole = 0, size // no SEEK_DATA here
		} else if hole, err = unix.Seek(fd, data, unix.SEEK_HOLE); err != nil {
			return os.NewSyscallError("lseek(SEEK_HOLE)", err)
		}
		hole = min(hole, size)
		if err := enc.Encode(&images.GhostChunkEntry{Len: proto.Uint64(uint64(hole - data)), Off: proto.Uint64(uint64(data))}); err != nil {
			return err
		}
		if _, err := io.Copy(w, io.NewSectionReader(src, data, hole-data)); err != nil {
			return err
		}
	}
	return nil
}
