package files

import (
	"context"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// ghost is the content of a file that was deleted while still open or
// mapped; restore recreates it, opens it, and unlinks it again.
type ghost struct {
	id   uint32
	link string // /proc path to read the content from
	st   unix.Stat_t
}

// GhostImage is the image of ghost id: a GhostFileEntry, then the
// file's bytes (raw, or as chunks).
func GhostImage(id uint32) string { return fmt.Sprintf("ghost-file-%x.img", id) }

// WriteGhosts writes ghost-file-ID.img for each deleted file: a
// GhostFileEntry, then the file's bytes.
func (f *Set) WriteGhosts(ctx context.Context, s image.Store) error {
	for _, g := range f.ghosts {
		name := GhostImage(g.id)
		if err := writeGhost(ctx, s, name, g); err != nil {
			return err
		}
	}
	return nil
}

func writeGhost(ctx context.Context, s image.Store, name string, g *ghost) (err error) {
	// Only a regular file has bytes here: a fifo's go to fifo-data.img
	// (package pipes), as CRIU's, and opening a fifo could block, a
	// device do what its driver does.
	var src *os.File
	if g.st.Mode&unix.S_IFMT == unix.S_IFREG {
		if src, err = os.Open(g.link); err != nil {
			return fmt.Errorf("open deleted file %s: %w", g.link, err)
		}
		defer src.Close()
	}
	w, err := s.Create(ctx, name)
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
	switch g.st.Mode & unix.S_IFMT {
	case unix.S_IFCHR, unix.S_IFBLK:
		// As CRIU: the device number in the kernel's (and glibc's)
		// encoding, which mknod takes.
		e.Rdev = proto.Uint32(uint32(g.st.Rdev))
	case unix.S_IFLNK:
		target, err := symlinkTarget(g.link)
		if err != nil {
			return err
		}
		e.SymlnkTarget = proto.String(target)
	}
	empty := src == nil
	// As CRIU: a file of 3 pages or more is saved as chunks of data
	// (GhostChunkEntry, then its bytes), which keeps its holes.
	chunks := !empty && g.st.Size >= ghostChunksMin
	if chunks {
		e.Chunks = proto.Bool(true)
		e.Size = proto.Uint64(uint64(g.st.Size))
	}
	if err := enc.Encode(e); err != nil {
		return err
	}
	switch {
	case empty:
		// A ghost directory or fifo has no contents.
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

// symlinkTarget reads the target of the deleted symlink open at link (an
// O_PATH|O_NOFOLLOW fd's /proc magic link, which an O_PATH open follows
// to the symlink itself).
func symlinkTarget(link string) (string, error) {
	fd, err := unix.Open(link, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open deleted symlink %s: %w", link, os.NewSyscallError("open", err))
	}
	defer unix.Close(fd)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", fmt.Errorf("read deleted symlink %s: %w", link, os.NewSyscallError("readlinkat", err))
	}
	return string(buf[:n]), nil
}
