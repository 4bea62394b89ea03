package pipes

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// Data is a pipe's buffered bytes and buffer size from pipes-data.img
// (or a fifo's, from fifo-data.img).
type Data struct {
	size uint32
	data []byte
}

// maxPipeData caps one pipe's buffered bytes.
const maxPipeData = 64 << 20

// ReadData reads the pipe data image name (PipesDataImage or
// FifoDataImage) of s, by pipe id; none is no data.
func ReadData(ctx context.Context, s image.Store, name string) (map[uint32]*Data, error) {
	out := map[uint32]*Data{}
	_, err := image.ReadEach(ctx, s, name, func() *images.PipeDataEntry { return &images.PipeDataEntry{} }, func(e *images.PipeDataEntry, dec *image.Decoder) error {
		if e.GetBytes() > maxPipeData {
			return fmt.Errorf("%w: %s: pipe %d holds %d bytes", errdefs.ErrBadImage, name, e.GetPipeId(), e.GetBytes())
		}
		b, err := dec.Payload(int64(e.GetBytes()))
		if err != nil {
			return err
		}
		out[e.GetPipeId()] = &Data{size: e.GetSize(), data: b}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Key is CRIU's name of a pipe for --inherit-fd.
func Key(pe *images.PipeEntry) string { return fmt.Sprintf("pipe:[%d]", pe.GetPipeId()) }

// Masters opens, in the restorer, the file descriptions of the pipes and
// fifos that tasks get copies of (pidfd_getfd), for one restore. Every fd
// it opens, those it returns too, is given to keep, which the caller
// closes once the tasks hold their copies. Not safe for concurrent use.
type Masters struct {
	// Root prefixes the paths of fifos: a container's, as criu reaches
	// them (mntns.Layout.Prefix); "" for criu's own root.
	Root string
	// Ghost, if set, gives the ghost copy a reg entry (by file id) is
	// opened from: a fifo deleted while open (package files).
	Ghost              func(regID uint32) (string, bool)
	pipeData, fifoData map[uint32]*Data
	keep               func(fd int)
	pipes              map[uint32]*ends
	fifos              map[uint32]int // O_RDWR master fd by fifo pipe id
	used               map[[2]uint32]bool
}

type ends struct{ r, w int }

// NewMasters returns a Masters that fills pipes from pipeData
// (pipes-data.img) and fifos from fifoData (fifo-data.img).
func NewMasters(pipeData, fifoData map[uint32]*Data, keep func(fd int)) *Masters {
	return &Masters{pipeData: pipeData, fifoData: fifoData, keep: keep,
		pipes: map[uint32]*ends{}, fifos: map[uint32]int{}, used: map[[2]uint32]bool{}}
}

// Pipe opens the description of pipe entry pe: the pipe is made (and
// filled with its dumped bytes) the first time one of its ends is met.
func (m *Masters) Pipe(pe *images.PipeEntry) (int, error) {
	p := m.pipes[pe.GetPipeId()]
	if p == nil {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			return -1, os.NewSyscallError("pipe2", err)
		}
		p = &ends{fds[0], fds[1]}
		m.pipes[pe.GetPipeId()] = p
		m.keep(fds[0])
		m.keep(fds[1])
		if pd := m.pipeData[pe.GetPipeId()]; pd != nil {
			if err := fill(fds[1], pd); err != nil {
				return -1, fmt.Errorf("pipe:[%d]: %w", pe.GetPipeId(), err)
			}
		}
	}
	acc := pe.GetFlags() & unix.O_ACCMODE
	src := p.r
	if acc != unix.O_RDONLY {
		src = p.w
	}
	// Each description of an end after the first is a new open
	// of the pipe.
	var fd int
	var err error
	k := [2]uint32{pe.GetPipeId(), acc}
	if !m.used[k] && acc != unix.O_RDWR {
		m.used[k] = true
		fd, err = unix.FcntlInt(uintptr(src), unix.F_DUPFD_CLOEXEC, 0)
	} else {
		fd, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", src), int(acc)|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("pipe:[%d]: %w", pe.GetPipeId(), os.NewSyscallError("open", err))
	}
	m.keep(fd)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(pe.GetFlags()&^unix.O_ACCMODE)); err != nil {
		return -1, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return fd, nil
}

// Fifo opens the description of FIFO file f (file id id) at the path of
// its reg entry in files. The first time a fifo is met it is opened
// O_RDWR (which never blocks and keeps the fifo alive until the tasks
// hold it) and filled with its dumped bytes; each description is then a
// new open of that fd through /proc/self/fd, with the dumped access
// mode, which does not block either as the O_RDWR fd is both a reader
// and a writer. A fifo missing from the file system is made again with
// mkfifo and its dumped mode. A ghost fifo (deleted while open) is
// opened from its ghost copy (Ghost), made before.
func (m *Masters) Fifo(id uint32, f *images.FileEntry, files map[uint32]*images.FileEntry) (int, error) {
	fe := f.GetFifo()
	if fe == nil {
		return -1, fmt.Errorf("%w: fifo file %d has no fifo entry", errdefs.ErrBadImage, id)
	}
	rf := files[fe.GetRegfId()]
	reg := rf.GetReg()
	if reg == nil || reg.GetName() == "" {
		return -1, fmt.Errorf("%w: fifo file %d: no reg file %d naming it", errdefs.ErrBadImage, id, fe.GetRegfId())
	}
	path, ghost := m.Root+reg.GetName(), false
	if m.Ghost != nil {
		if g, ok := m.Ghost(fe.GetRegfId()); ok {
			path, ghost = m.Root+g, true
		}
	}
	rw, ok := m.fifos[fe.GetPipeId()]
	if !ok {
		var st unix.Stat_t
		err := unix.Stat(path, &st)
		if err == unix.ENOENT && !ghost {
			mode := reg.GetMode() & 07777
			if mode == 0 {
				mode = 0600
			}
			if err := unix.Mkfifo(path, mode); err != nil && err != unix.EEXIST {
				return -1, fmt.Errorf("fifo %s: %w", path, os.NewSyscallError("mkfifo", err))
			}
			// mkfifo applies the umask; give the node its dumped mode.
			if err := unix.Chmod(path, mode); err != nil {
				return -1, fmt.Errorf("fifo %s: %w", path, os.NewSyscallError("chmod", err))
			}
			err = unix.Stat(path, &st)
		}
		if err != nil {
			return -1, fmt.Errorf("fifo %s: %w", path, os.NewSyscallError("stat", err))
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return -1, fmt.Errorf("%w: %s is not a fifo any more (mode %#o)", errdefs.ErrUnsupported, path, st.Mode)
		}
		rw, err = unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("fifo %s: %w", path, os.NewSyscallError("open", err))
		}
		m.keep(rw)
		m.fifos[fe.GetPipeId()] = rw
		if pd := m.fifoData[fe.GetPipeId()]; pd != nil {
			if err := fill(rw, pd); err != nil {
				return -1, fmt.Errorf("fifo %s: %w", path, err)
			}
		}
	}
	flags := reg.GetFlags()
	acc := flags & unix.O_ACCMODE
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", rw), int(acc)|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("fifo %s: %w", path, os.NewSyscallError("open", err))
	}
	keep := int(flags &^ (unix.O_ACCMODE | unix.O_CREAT | unix.O_TRUNC | unix.O_EXCL | unix.O_CLOEXEC))
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, keep); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	m.keep(fd)
	return fd, nil
}

// fill sizes the pipe as dumped and puts its bytes back.
func fill(w int, pd *Data) error {
	if pd.size != 0 {
		if _, err := unix.FcntlInt(uintptr(w), unix.F_SETPIPE_SZ, int(pd.size)); err != nil {
			return os.NewSyscallError("fcntl(F_SETPIPE_SZ)", err)
		}
	}
	for b := pd.data; len(b) > 0; {
		n, err := unix.Write(w, b)
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		b = b[n:]
	}
	return nil
}
