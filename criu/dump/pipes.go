package dump

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

// pipeObj is one pipe (one inode) and the file descriptions of its ends.
type pipeObj struct {
	ino         uint64
	first       fdRef // where it was first seen, to name it in errors
	read, write bool  // an end of that direction is in the tree
	size        int   // F_GETPIPE_SZ
	data        []byte
}

// addPipe records the pipe end open at fd of d, reading the pipe's
// buffered bytes (without consuming them) the first time the pipe is seen.
func (d *dumper) addPipe(fd int, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	s := d.t.shared
	p := s.byIno[st.Ino]
	if p == nil {
		p = &pipeObj{ino: st.Ino, first: fdRef{pid: d.pid, fd: fd}}
		if err := p.readData(d.pid, fd); err != nil {
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
	id := d.files.id()
	return &images.FileEntry{Type: images.FdTypes_PIPE.Enum(), Id: proto.Uint32(id), Pipe: &images.PipeEntry{
		Id: proto.Uint32(id), PipeId: proto.Uint32(uint32(st.Ino)), Flags: proto.Uint32(flags), Fown: zeroFown(),
	}}, nil
}

// readData copies the pipe's buffer with tee(2) into a pipe of our own,
// which leaves the task's pipe as it was.
func (p *pipeObj) readData(pid, fd int) error {
	src, err := getFd(pid, fd)
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

// writePipes writes pipes-data.img (pipe entries themselves live in
// files.img). A pipe with an end outside the tree (the stdio a
// supervisor or a container runtime gives) is dumped as CRIU does: as a
// pipe with its id, which restore makes anew, its other end held by no
// one, unless `criu restore --inherit-fd fd[N]:pipe:[INO]` gives criu's
// fd N in its place. Its bytes are saved only when its read end is in
// the tree (as CRIU): those a task of the tree only writes belong to
// the reader outside, which keeps them.
func (s *sharedSet) writePipes(ctx context.Context, t *tree) error {
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
		t.opts.Log.Info().Int("pid", p.first.pid).Int("fd", p.first.fd).
			Msgf("pipe:[%d]: its %s end is outside the dumped tree: restore makes a new pipe, or give one with --inherit-fd fd[N]:pipe:[%d]", p.ino, end, p.ino)
	}
	return writePipeData(ctx, t, "pipes-data.img", s.pipes)
}

// writePipeData writes the buffered bytes of pipes (pipes-data.img) or
// fifos (fifo-data.img): a PipeDataEntry, then the bytes, for each.
func writePipeData(ctx context.Context, t *tree, name string, pipes []*pipeObj) error {
	if len(pipes) == 0 {
		return nil
	}
	return image.WriteEntries(ctx, t.store, name, func(enc *image.Encoder, payload io.Writer) error {
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
