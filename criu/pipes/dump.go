package pipes

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Image names: the buffered bytes of the pipes and of the fifos of the
// tree (the pipe and fifo entries themselves live in files.img).
const (
	PipesDataImage = "pipes-data.img"
	FifoDataImage  = "fifo-data.img"
)

// Tree is what recording pipes and fifos needs of the tree being dumped
// (implemented by criu/dump's tree).
type Tree interface {
	// GetFd copies fd of task pid into criu (pidfd_getfd): the same
	// open file description.
	GetFd(pid, fd int) (int, error)
	// ID hands out the next file id of files.img.
	ID() uint32
	// AddReg records a file opened by path (the reg entry that names a
	// fifo) and returns its file id.
	AddReg(path, link string, flags uint32, pos int64) (uint32, error)
}

// pipe is one pipe or fifo (one inode) and the file descriptions of its
// ends.
type pipe struct {
	ino         uint64
	pid, fd     int  // where it was first seen, to name it in messages
	read, write bool // an end of that direction is in the tree
	size        int  // F_GETPIPE_SZ
	data        []byte
}

// Set collects the pipes and fifos of one dump, each with its buffered
// bytes read once, to be written (Write) once for the whole tree. The
// orchestrator holds one.
type Set struct {
	pipes []*pipe
	byIno map[uint64]*pipe
	// fifos are the named pipes open in the tree, by (dev, ino) in
	// fifoByKey.
	fifos     []*pipe
	fifoByKey map[[2]uint64]*pipe
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{byIno: map[uint64]*pipe{}, fifoByKey: map[[2]uint64]*pipe{}}
}

// AddPipe records the pipe end open at fd of task pid (st its stat,
// flags its open flags), reading the pipe's buffered bytes (without
// consuming them) the first time the pipe is seen.
func (s *Set) AddPipe(t Tree, pid, fd int, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	p := s.byIno[st.Ino]
	if p == nil {
		p = &pipe{ino: st.Ino, pid: pid, fd: fd}
		if err := p.readData(t, pid, fd); err != nil {
			return nil, err
		}
		s.byIno[st.Ino] = p
		s.pipes = append(s.pipes, p)
	}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		p.read = true
	case unix.O_WRONLY:
		p.write = true
	default:
		p.read, p.write = true, true
	}
	id := t.ID()
	return &images.FileEntry{Type: images.FdTypes_PIPE.Enum(), Id: proto.Uint32(id), Pipe: &images.PipeEntry{
		Id: proto.Uint32(id), PipeId: proto.Uint32(uint32(st.Ino)), Flags: proto.Uint32(flags), Fown: image.ZeroFown(),
	}}, nil
}

// AddFifo records an fd open on a named pipe (path, reached through the
// /proc magic link link) as CRIU does: a reg file entry naming the fifo
// in the file system, a FIFO file entry pointing to it (regf_id) with
// the fifo's inode as pipe_id, and, the first time the fifo is seen, its
// buffered bytes (read with tee, left in place) for fifo-data.img.
// Unlike an anonymous pipe, a fifo may have an end outside the tree:
// restore reopens it by path. path is without " (deleted)": a fifo
// deleted while open is a ghost (package files).
func (s *Set) AddFifo(t Tree, pid, fd int, st *unix.Stat_t, flags uint32, path, link string) (*images.FileEntry, error) {
	k := [2]uint64{st.Dev, st.Ino}
	p := s.fifoByKey[k]
	if p == nil {
		p = &pipe{ino: st.Ino, pid: pid, fd: fd}
		if err := p.readData(t, pid, fd); err != nil {
			return nil, err
		}
		s.fifoByKey[k] = p
		s.fifos = append(s.fifos, p)
	}
	// The reg entry holds the path and the fd's flags; fds of the same
	// path and flags may share one (AddReg), as they only name the fifo.
	regID, err := t.AddReg(path, link, flags, 0)
	if err != nil {
		return nil, err
	}
	id := t.ID()
	return &images.FileEntry{Type: images.FdTypes_FIFO.Enum(), Id: proto.Uint32(id), Fifo: &images.FifoEntry{
		Id: proto.Uint32(id), PipeId: proto.Uint32(uint32(st.Ino)), RegfId: proto.Uint32(regID),
	}}, nil
}

// readData copies the pipe's buffer with tee(2) into a pipe of our own,
// which leaves the task's pipe as it was.
func (p *pipe) readData(t Tree, pid, fd int) error {
	src, err := t.GetFd(pid, fd)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	p.size, err = unix.FcntlInt(uintptr(src), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		return os.NewSyscallError("fcntl(F_GETPIPE_SZ)", err)
	}
	var tmp [2]int
	if err := unix.Pipe2(tmp[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return os.NewSyscallError("pipe2", err)
	}
	defer unix.Close(tmp[0])
	defer unix.Close(tmp[1])
	if _, err := unix.FcntlInt(uintptr(tmp[1]), unix.F_SETPIPE_SZ, p.size); err != nil {
		return os.NewSyscallError("fcntl(F_SETPIPE_SZ)", err)
	}
	// tee needs the read end of the task's pipe; an fd of the write end
	// reaches the same pipe when reopened through /proc for reading.
	rd := src
	if fl, err := unix.FcntlInt(uintptr(src), unix.F_GETFL, 0); err == nil && fl&unix.O_ACCMODE == unix.O_WRONLY {
		rd, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", src), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("open pipe for reading", err)
		}
		defer unix.Close(rd)
	}
	n, err := unix.Tee(rd, tmp[1], p.size, unix.SPLICE_F_NONBLOCK)
	if err == unix.EAGAIN {
		return nil // empty
	}
	if err != nil {
		return os.NewSyscallError("tee", err)
	}
	p.data = make([]byte, n)
	for off := 0; off < len(p.data); {
		m, err := unix.Read(tmp[0], p.data[off:])
		if err != nil || m == 0 {
			return fmt.Errorf("read pipe data: %w", os.NewSyscallError("read", err))
		}
		off += m
	}
	return nil
}

// Write writes pipes-data.img, then fifo-data.img. A pipe with an end
// outside the tree (the stdio a supervisor or a container runtime gives)
// is dumped as CRIU does: as a pipe with its id, which restore makes
// anew, its other end held by no one, unless `criu restore --inherit-fd
// fd[N]:pipe:[INO]` gives criu's fd N in its place; log says so. Its
// bytes are saved only when its read end is in the tree (as CRIU): those
// a task of the tree only writes belong to the reader outside, which
// keeps them.
func (s *Set) Write(ctx context.Context, st image.Store, log zerolog.Logger) error {
	if err := s.writePipes(ctx, st, log); err != nil {
		return err
	}
	return writeData(ctx, st, FifoDataImage, s.fifos)
}

func (s *Set) writePipes(ctx context.Context, st image.Store, log zerolog.Logger) error {
	if len(s.pipes) == 0 {
		return nil
	}
	for _, p := range s.pipes {
		if p.read && p.write {
			continue
		}
		end := "write"
		if !p.read {
			end = "read"
			p.data = nil
		}
		log.Info().Int("pid", p.pid).Int("fd", p.fd).
			Msgf("pipe:[%d]: its %s end is outside the dumped tree: restore makes a new pipe, or give one with --inherit-fd fd[N]:pipe:[%d]", p.ino, end, p.ino)
	}
	return writeData(ctx, st, PipesDataImage, s.pipes)
}

// writeData writes the buffered bytes of pipes (pipes-data.img) or
// fifos (fifo-data.img): a PipeDataEntry, then the bytes, for each.
func writeData(ctx context.Context, st image.Store, name string, pipes []*pipe) error {
	if len(pipes) == 0 {
		return nil
	}
	return image.WriteEntries(ctx, st, name, func(enc *image.Encoder, payload io.Writer) error {
		for _, p := range pipes {
			if len(p.data) == 0 && p.size == 0 {
				continue
			}
			e := &images.PipeDataEntry{PipeId: proto.Uint32(uint32(p.ino)), Bytes: proto.Uint32(uint32(len(p.data))), Size: proto.Uint32(uint32(p.size))}
			if err := enc.Encode(e); err != nil {
				return err
			}
			if _, err := payload.Write(p.data); err != nil {
				return err
			}
		}
		return nil
	})
}

// EndInTree reports whether one of the tasks pids (the tree's live
// tasks) holds pipe:[ino] open for reading (read) or for writing
// (!read). Used for stdio pipes under ShellJob: a pipe whose other end
// no task of the tree holds comes from the shell's pipeline. The tree is
// frozen, so its fds do not change.
func EndInTree(pids []int, ino uint64, read bool) (bool, error) {
	want := fmt.Sprintf("pipe:[%d]", ino)
	for _, pid := range pids {
		fds, err := procfs.Fds(pid)
		if err != nil {
			return false, fmt.Errorf("list fds of %d: %w", pid, err)
		}
		for _, fd := range fds {
			target, err := os.Readlink(procfs.Path(pid, fmt.Sprintf("fd/%d", fd)))
			if err != nil || target != want {
				continue
			}
			fi, err := procfs.ReadFdinfo(pid, fd)
			if err != nil {
				return false, err
			}
			switch fi.Flags & unix.O_ACCMODE {
			case unix.O_RDONLY:
				if read {
					return true, nil
				}
			case unix.O_WRONLY:
				if !read {
					return true, nil
				}
			default:
				return true, nil
			}
		}
	}
	return false, nil
}
