package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/cleanup"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// Ghosts are the ghost copies one restore makes (Make) for the tasks to
// open, removed again (Remove) once every file is open. The tree
// restorer holds one; it is not safe for concurrent use.
type Ghosts struct {
	// byFile: the copy each remapped file is opened from, by file id.
	byFile map[uint32]string
	// byIno: the copies made, by the dumped file's device (kernel
	// encoding) and inode.
	byIno map[[2]uint64]string
	// parents: directories made for ghosts whose directory was
	// removed too, removed again with them.
	parents []string
	// links: the names Link made or found (the file's own name linked
	// again, the link the dump made), removed with the ghosts.
	links []string
	// Root is where criu finds the tree's paths: "" when they are
	// criu's own, /proc/ROOT/root for a container's, whose mounts
	// restore makes once its root task exists (package mntns), Make
	// called after. The paths recorded (Of, Path, ByIno) are the
	// tree's; the files are made and removed below Root.
	Root string
}

// NewGhosts returns a Ghosts with no copy made.
func NewGhosts() *Ghosts {
	return &Ghosts{byFile: map[uint32]string{}, byIno: map[[2]uint64]string{}}
}

// Of is the ghost copy file id is opened from, if it has one.
func (gs *Ghosts) Of(id uint32) (string, bool) {
	p, ok := gs.byFile[id]
	return p, ok
}

// ByIno are the ghost copies made, by the dumped file's device (kernel
// encoding, as an inotify watch names it) and inode.
func (gs *Ghosts) ByIno() map[[2]uint64]string { return gs.byIno }

// Path is where to open file id of files from: its name, or its ghost
// copy.
func (gs *Ghosts) Path(files map[uint32]*images.FileEntry, id uint32) (string, *images.RegFileEntry, error) {
	f := files[id]
	if f == nil || f.GetReg() == nil {
		return "", nil, fmt.Errorf("%w: no regular file %d in files.img", errdefs.ErrBadImage, id)
	}
	if g, ok := gs.byFile[id]; ok {
		return g, f.GetReg(), nil
	}
	return f.GetReg().GetName(), f.GetReg(), nil
}

// Make recreates deleted files next to where they were, to be opened
// and then unlinked again: each file of remaps (ghost id by file id)
// from its ghost-file-ID.img in s. What it makes is removed by undo on
// failure.
func (gs *Ghosts) Make(ctx context.Context, s image.Store, files map[uint32]*images.FileEntry, remaps map[uint32]uint32, undo *cleanup.Cleanup) error {
	made := map[uint32]string{}
	for fileID, gid := range remaps {
		f := files[fileID].GetReg()
		if f == nil {
			return fmt.Errorf("%w: remap of unknown file %d", errdefs.ErrBadImage, fileID)
		}
		if p, ok := made[gid]; ok {
			gs.byFile[fileID] = p
			continue
		}
		name := GhostImage(gid)
		rd, err := s.Open(ctx, name)
		if err != nil {
			return err
		}
		dec, err := image.NewDecoder(rd, name)
		if err != nil {
			rd.Close()
			return err
		}
		g := &images.GhostFileEntry{}
		if err := dec.Decode(g); err != nil {
			rd.Close()
			return err
		}
		if g.GetMode()&unix.S_IFMT != unix.S_IFREG {
			// A deleted directory (an fd or cwd on it), fifo (package
			// pipes fills it from fifo-data.img), device or symlink:
			// made again, empty, removed once the tasks hold it.
			rd.Close()
			parents, err := gs.makeParents(f.GetName())
			if err != nil {
				return err
			}
			undo.Add(func() { removeAll(parents) })
			p, err := makeGhostNode(gs.Root, f.GetName(), gid, g)
			if err != nil {
				return err
			}
			undo.Add(func() { os.Remove(gs.Root + p) })
			if err := ghostAttrs(gs.Root+p, g); err != nil {
				return err
			}
			made[gid] = p
			gs.byFile[fileID] = p
			gs.byIno[[2]uint64{uint64(g.GetDev()), g.GetIno()}] = p
			continue
		}
		parents, err := gs.makeParents(f.GetName())
		if err != nil {
			rd.Close()
			return err
		}
		undo.Add(func() { removeAll(parents) })
		// At its own name when that is free, so that maps reads the same.
		p := f.GetName()
		out, err := os.OpenFile(gs.Root+p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(g.GetMode()&0o7777))
		if err != nil {
			p = fmt.Sprintf("%s.criu-ghost.%x", f.GetName(), gid)
			out, err = os.OpenFile(gs.Root+p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(g.GetMode()&0o7777))
		}
		if err != nil {
			rd.Close()
			return fmt.Errorf("create ghost file: %w", err)
		}
		undo.Add(func() { os.Remove(gs.Root + p) })
		gs.byIno[[2]uint64{uint64(g.GetDev()), g.GetIno()}] = p
		if g.GetChunks() {
			err = readChunks(dec, out, int64(g.GetSize()))
		} else if g.Size != nil {
			err = dec.CopyPayload(out, int64(g.GetSize()))
		} else {
			// A raw ghost has no size (CRIU's and ours): its bytes are
			// the rest of the image, as CRIU's restore copies them.
			_, err = io.Copy(out, rd)
		}
		rd.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write ghost file %s: %w", p, err)
		}
		if err := ghostAttrs(gs.Root+p, g); err != nil {
			return err
		}
		made[gid] = p
		gs.byFile[fileID] = p
	}
	return nil
}

// RemapPaths are the paths Make and Link make files at: those of the
// files of remaps and of linked (by file id) in files.
func RemapPaths(files map[uint32]*images.FileEntry, remaps, linked map[uint32]uint32) []string {
	var ps []string
	for _, ids := range []map[uint32]uint32{remaps, linked} {
		for id := range ids {
			ps = append(ps, files[id].GetReg().GetName())
		}
	}
	return ps
}

// Link makes each file of linked (the file it is linked back from, by
// file id: a hard link the dump made in its directory, CRIU's
// link_remap.N) reachable at its own name again, as CRIU 4.2's restore
// does, so that it is opened there and reads as deleted once both names
// are removed (Remove), in the directories it was in made again when
// they were removed too; at the dump's link when its name is taken. What
// it links is unlinked by undo on failure; the dump's link stays, for
// another restore.
func (gs *Ghosts) Link(files map[uint32]*images.FileEntry, linked map[uint32]uint32, undo *cleanup.Cleanup) error {
	for fileID, from := range linked {
		f, l := files[fileID].GetReg(), files[from].GetReg()
		if f == nil || l == nil {
			return fmt.Errorf("%w: linked remap of file %d from %d: not regular files of files.img", errdefs.ErrBadImage, fileID, from)
		}
		p := f.GetName()
		err := os.Link(gs.Root+l.GetName(), gs.Root+p)
		if errors.Is(err, fs.ErrNotExist) {
			// Its directory was removed too (upstream zdtm's
			// unlink_regular00): made for the link, removed
			// again with it, as a ghost's.
			if _, serr := os.Lstat(gs.Root + l.GetName()); serr == nil {
				parents, perr := gs.makeParents(p)
				if perr != nil {
					return perr
				}
				undo.Add(func() { removeAll(parents) })
				err = os.Link(gs.Root+l.GetName(), gs.Root+p)
			}
		}
		if err == nil {
			undo.Add(func() { os.Remove(gs.Root + p) })
			gs.links = append(gs.links, p)
		} else if errors.Is(err, fs.ErrExist) {
			p = l.GetName()
		} else {
			return fmt.Errorf("file %s deleted while open: link it back from %s: %w", p, l.GetName(), err)
		}
		gs.links = append(gs.links, l.GetName())
		gs.byFile[fileID] = p
	}
	return nil
}

// readChunks fills a ghost file saved as chunks (CRIU's format): the
// file is made size bytes long, all hole, then each GhostChunkEntry's
// bytes are written at its offset, which keeps the holes between them.
func readChunks(dec *image.Decoder, out *os.File, size int64) error {
	if err := out.Truncate(size); err != nil {
		return err
	}
	for {
		ce := &images.GhostChunkEntry{}
		err := dec.Decode(ce)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		off, n := int64(ce.GetOff()), int64(ce.GetLen())
		if off < 0 || n < 0 || off+n > size || off+n < off {
			return fmt.Errorf("%w: ghost chunk %d+%d outside a file of %d bytes", errdefs.ErrBadImage, off, n, size)
		}
		if err := dec.CopyPayload(io.NewOffsetWriter(out, off), n); err != nil {
			return err
		}
	}
}

// ghostAttrs gives a ghost its owner, mode (set-id bits too: chown clears
// them, so chmod comes after) and access and modification times, as CRIU;
// a symlink's own (its mode is always 777).
func ghostAttrs(p string, g *images.GhostFileEntry) error {
	if err := os.Lchown(p, int(g.GetUid()), int(g.GetGid())); err != nil {
		return fmt.Errorf("ghost file %s: %w", p, err)
	}
	link := g.GetMode()&unix.S_IFMT == unix.S_IFLNK
	if !link {
		if err := unix.Chmod(p, g.GetMode()&0o7777); err != nil {
			return fmt.Errorf("ghost file %s: %w", p, os.NewSyscallError("chmod", err))
		}
	}
	if g.Atim == nil || g.Mtim == nil {
		return nil // an image without them
	}
	ts := []unix.Timespec{
		{Sec: int64(g.Atim.GetTvSec()), Nsec: int64(g.Atim.GetTvUsec()) * 1000},
		{Sec: int64(g.Mtim.GetTvSec()), Nsec: int64(g.Mtim.GetTvUsec()) * 1000},
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("ghost file %s: %w", p, os.NewSyscallError("utimensat", err))
	}
	return nil
}

// makeGhostNode makes a deleted directory, fifo, device or symlink
// again below root, at its own name when that is free (else at
// NAME.criu-ghost.ID), and returns its name: a directory of its mode
// (mkdir applies the umask: chmod after), a fifo, a device of its mode
// and device number (CRIU's rdev, the kernel's encoding), a symlink to
// its target. ghostAttrs gives it its owner, mode and times.
func makeGhostNode(root, name string, gid uint32, g *images.GhostFileEntry) (string, error) {
	mode := g.GetMode()
	var what string
	var mk func(p string) error
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		what, mk = "directory", func(p string) error {
			if err := unix.Mkdir(p, mode&0o7777); err != nil {
				return os.NewSyscallError("mkdir", err)
			}
			if err := unix.Chmod(p, mode&0o7777); err != nil {
				os.Remove(p)
				return os.NewSyscallError("chmod", err)
			}
			return nil
		}
	case unix.S_IFIFO:
		what, mk = "fifo", func(p string) error { return os.NewSyscallError("mkfifo", unix.Mkfifo(p, mode&0o7777)) }
	case unix.S_IFCHR, unix.S_IFBLK:
		if g.Rdev == nil {
			return "", fmt.Errorf("%w: ghost device %s has no device number", errdefs.ErrBadImage, name)
		}
		what, mk = "device", func(p string) error {
			return os.NewSyscallError("mknod", unix.Mknod(p, mode, int(g.GetRdev())))
		}
	case unix.S_IFLNK:
		if g.SymlnkTarget == nil {
			return "", fmt.Errorf("%w: ghost symlink %s has no target", errdefs.ErrBadImage, name)
		}
		what, mk = "symlink", func(p string) error { return os.NewSyscallError("symlink", unix.Symlink(g.GetSymlnkTarget(), p)) }
	default:
		return "", fmt.Errorf("%w: ghost %s of mode %o", errdefs.ErrBadImage, name, mode)
	}
	p := name
	err := mk(root + p)
	if err != nil {
		p = fmt.Sprintf("%s.criu-ghost.%x", name, gid)
		err = mk(root + p)
	}
	if err != nil {
		return "", fmt.Errorf("create ghost %s %s: %w", what, p, err)
	}
	return p, nil
}

// makeParents makes the missing directories above a ghost's path (the
// directory it was in was removed too) and returns them, deepest first,
// to be removed again with the ghost. Each is recorded in gs.parents
// too.
func (gs *Ghosts) makeParents(name string) ([]string, error) {
	var missing []string
	for d := filepath.Dir(name); d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(gs.Root + d); err == nil {
			break
		}
		missing = append(missing, gs.Root+d)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := unix.Mkdir(missing[i], 0o700); err != nil {
			removeAll(made)
			return nil, fmt.Errorf("ghost file %s: make the removed directory %s: %w", name, missing[i], os.NewSyscallError("mkdir", err))
		}
		made = append([]string{missing[i]}, made...)
	}
	gs.parents = append(gs.parents, made...)
	return made, nil
}

// removeAll removes the directories dirs, in order.
func removeAll(dirs []string) {
	for _, d := range dirs {
		os.Remove(d)
	}
}

// Remove removes the ghost copies, then the directories made for them,
// deepest first (below Root, which must still reach them).
func (gs *Ghosts) Remove() {
	done := map[string]bool{}
	for _, p := range gs.byFile {
		if !done[p] {
			os.Remove(gs.Root + p)
			done[p] = true
		}
	}
	for _, p := range gs.links {
		os.Remove(gs.Root + p)
	}
	// The directories made for them, deepest first.
	ps := gs.parents
	sort.Slice(ps, func(i, j int) bool { return len(ps[i]) > len(ps[j]) })
	removeAll(ps)
}
