package dump

import (
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// addFifo records an fd open on a named pipe as CRIU does: a reg file
// entry naming the fifo in the file system, a FIFO file entry pointing to
// it (regf_id) with the fifo's inode as pipe_id, and, the first time the
// fifo is seen, its buffered bytes (read with tee, left in place) for
// fifo-data.img. Unlike an anonymous pipe, a fifo may have an end outside
// the tree: restore reopens it by path.
func (d *dumper) addFifo(fd int, st *unix.Stat_t, flags uint32, path, link string) (*images.FileEntry, error) {
	s := d.t.shared
	k := [2]uint64{st.Dev, st.Ino}
	p := s.fifoByKey[k]
	if p == nil {
		p = &pipeObj{ino: st.Ino, first: fdRef{pid: d.pid, fd: fd}}
		if err := p.readData(d.pid, fd); err != nil {
			return nil, err
		}
		s.fifoByKey[k] = p
		s.fifos = append(s.fifos, p)
	}
	// The reg entry holds the path and the fd's flags; fds of the same
	// path and flags may share one (addReg), as they only name the fifo.
	regID, err := d.files.addReg(path, link, flags, 0)
	if err != nil {
		return nil, err
	}
	id := d.files.id()
	return &images.FileEntry{Type: images.FdTypes_FIFO.Enum(), Id: proto.Uint32(id), Fifo: &images.FifoEntry{
		Id: proto.Uint32(id), PipeId: proto.Uint32(uint32(st.Ino)), RegfId: proto.Uint32(regID),
	}}, nil
}
