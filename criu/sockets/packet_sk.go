package sockets

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/sockets/packet"
	"github.com/criugo/criu/criu/sockets/unsaved"
	"github.com/criugo/criu/proto/images"
)

// addPacketSk records a packet socket (package packet) with its
// SOL_SOCKET options and filter. cp is this process's copy of it. The
// packet sockets of the tree's network namespace are listed once.
func (s *Set) addPacketSk(cp int, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	if s.packetDiag == nil {
		err := s.t.NetDo(func() error {
			var err error
			s.packetDiag, err = packet.List()
			return err
		})
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%w: a packet socket, and the kernel has no packet_diag (CONFIG_PACKET_DIAG)", errdefs.ErrUnsupported)
		}
		if err != nil {
			return nil, err
		}
	}
	d := s.packetDiag[uint32(st.Ino)]
	if d == nil {
		return nil, fmt.Errorf("packet socket:[%d] is not in sock_diag's list of the tree's network namespace", st.Ino)
	}
	e, err := packet.Dump(cp, d)
	if err != nil {
		return nil, err
	}
	if err := packet.CheckRings(cp, d); err != nil {
		return nil, fmt.Errorf("packet socket:[%d]: %w", st.Ino, err)
	}
	if e.Opts, err = dumpSkOpts(cp); err != nil {
		return nil, err
	}
	// The fresh socket compared with hooks no protocol (0): it receives
	// nothing while it lives.
	if err := s.checkUnsaved(cp, unix.AF_PACKET, int(d.Type), 0, false, unsaved.Socket, unsaved.Packet); err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	id := s.t.FileID()
	e.Id, e.Flags, e.Fown = proto.Uint32(id), proto.Uint32(flags), image.ZeroFown()
	return &images.FileEntry{Type: images.FdTypes_PACKETSK.Enum(), Id: proto.Uint32(id), Psk: e}, nil
}

// PacketRingSize is the size of the rings of packet socket ino
// (packet.Diag.RingSize): 0 for one not recorded.
func (s *Set) PacketRingSize(ino uint32) uint64 { return s.packetDiag[ino].RingSize() }

// OpenPacket creates, in the restorer, the packet socket e describes
// (packet.Open) with its options, filter and file status flags. It runs
// in the tree's network namespace.
func OpenPacket(e *images.PacketSockEntry) (fd int, err error) {
	fd, err = packet.Open(e)
	if err != nil {
		return -1, fmt.Errorf("packet socket %d: %w", e.GetId(), err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
			err = fmt.Errorf("packet socket %d: %w", e.GetId(), err)
		}
	}()
	return fd, setOptsFlags(fd, e.GetOpts(), e.GetFlags())
}

// OpenSocket creates, in the restorer, the netlink or packet socket of
// file entry f (OpenNetlink, OpenPacket). It runs in the tree's network
// namespace.
func OpenSocket(f *images.FileEntry) (int, error) {
	switch f.GetType() {
	case images.FdTypes_NETLINKSK:
		return OpenNetlink(f.GetNlsk())
	case images.FdTypes_PACKETSK:
		return OpenPacket(f.GetPsk())
	}
	return -1, fmt.Errorf("%w: file %d of type %v is no netlink or packet socket", errdefs.ErrBadImage, f.GetId(), f.GetType())
}
