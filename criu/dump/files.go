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
	if st.Nlink == 0 && st.Mode&unix.S_IFMT == unix.S_IFREG {
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

// isTTY reports a terminal device by its major number.
func isTTY(rdev uint64) bool {
	maj := unix.Major(rdev)
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143)
}

// collectFds records every open fd of the task.
func (d *dumper) collectFds() ([]*images.FdinfoEntry, error) {
	fds, err := procfs.Fds(d.pid)
	if err != nil {
		return nil, fmt.Errorf("list fds of %d: %w", d.pid, err)
	}
	var out []*images.FdinfoEntry
	locked := map[int]procfs.Fdinfo{} // fds whose fdinfo shows locks
	for _, fd := range fds {
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
		case mode == unix.S_IFCHR && isTTY(st.Rdev):
			kind = "tty " + target
		case mode == unix.S_IFIFO:
			kind = "fifo " + target
		case mode == unix.S_IFSOCK:
			kind = "socket " + target
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
		shellStdio := d.opts.ShellJob && fd <= 2 && (strings.HasPrefix(kind, "tty") || kind == "shell pipe" || kind == "socket")
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
		if strings.HasPrefix(kind, "tty") && !shellStdio && (isPtmx(st.Rdev) || isPts(st.Rdev)) {
			e, err := d.addPty(fd, &st, flags, fi, target)
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
		// A regular-file fd gets its own description even at pos 0.
		delete(d.files.byKey, fmt.Sprintf("%s\x00%d", path, flags))
		d.files.descs[dk] = append(d.files.descs[dk], fdRef{pid: d.pid, fd: fd, id: id, typ: images.FdTypes_REG})
		out = append(out, &images.FdinfoEntry{Id: proto.Uint32(id), Flags: proto.Uint32(cloexec), Type: images.FdTypes_REG.Enum(), Fd: proto.Uint32(uint32(fd))})
	}
	for _, e := range out {
		fd := int(e.GetFd())
		if fi, ok := locked[fd]; ok {
			if err := d.addLocks(fd, fi, e.GetId(), e.GetType()); err != nil {
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

func zeroFown() *images.FownEntry {
	return &images.FownEntry{Uid: proto.Uint32(0), Euid: proto.Uint32(0), Signum: proto.Uint32(0), PidType: proto.Uint32(0), Pid: proto.Uint32(0)}
}

// writeGhosts writes ghost-file-ID.img for each deleted file: a
// GhostFileEntry, then the file's bytes.
func (d *dumper) writeGhosts(ctx context.Context) error {
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
	e := &images.GhostFileEntry{
		Uid: proto.Uint32(g.st.Uid), Gid: proto.Uint32(g.st.Gid), Mode: proto.Uint32(g.st.Mode),
		Dev: proto.Uint32(uint32(g.st.Dev)), Ino: proto.Uint64(g.st.Ino), Size: proto.Uint64(uint64(g.st.Size)),
	}
	if err := enc.Encode(e); err != nil {
		return err
	}
	if _, err := io.CopyN(w, src, g.st.Size); err != nil {
		return fmt.Errorf("copy deleted file %s: %w", g.link, err)
	}
	return w.Close()
}
