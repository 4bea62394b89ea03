package packet

import (
	"fmt"
	"math/bits"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// Open makes, in the restorer and the tree's network namespace, the
// packet socket e describes: bound to its interface, with its
// SOL_PACKET options, memberships and fanout group. The caller sets
// the SOL_SOCKET options and the file status flags, and closes fd if it
// fails after Open.
func Open(e *images.PacketSockEntry) (fd int, err error) {
	typ := int(e.GetType())
	if typ != unix.SOCK_RAW && typ != unix.SOCK_DGRAM {
		return -1, fmt.Errorf("%w: packet socket of type %d", errdefs.ErrUnsupported, typ)
	}
	if e.RxRing != nil || e.TxRing != nil {
		return -1, fmt.Errorf("%w: packet socket with a ring (PACKET_MMAP)", errdefs.ErrUnsupported)
	}
	if e.GetProtocol() > 0xffff {
		return -1, fmt.Errorf("%w: packet socket protocol %#x", errdefs.ErrBadImage, e.GetProtocol())
	}
	fd, err = unix.Socket(unix.AF_PACKET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(e.GetProtocol()))
	if err != nil {
		return -1, os.NewSyscallError("socket(AF_PACKET)", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}()
	// Protocol 0 binds with the socket's own (the one it was made with).
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: int(e.GetIfindex())}); err != nil {
		return fd, fmt.Errorf("bind to ifindex %d: %w", e.GetIfindex(), os.NewSyscallError("bind", err))
	}
	set := func(name string, opt, v int) error {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, opt, v); err != nil {
			return fmt.Errorf("%s %d: %w", name, v, os.NewSyscallError("setsockopt", err))
		}
		return nil
	}
	ints := []struct {
		name string
		opt  int
		v    uint32
		on   bool
	}{
		{"PACKET_VERSION", unix.PACKET_VERSION, e.GetVersion(), true},
		{"PACKET_RESERVE", unix.PACKET_RESERVE, e.GetReserve(), true},
		{"PACKET_TIMESTAMP", unix.PACKET_TIMESTAMP, e.GetTimestamp(), true},
		{"PACKET_COPY_THRESH", unix.PACKET_COPY_THRESH, e.GetCopyThresh(), true},
		{"PACKET_AUXDATA", unix.PACKET_AUXDATA, 1, e.GetAuxData()},
		{"PACKET_ORIGDEV", unix.PACKET_ORIGDEV, 1, e.GetOrigDev()},
		{"PACKET_VNET_HDR", unix.PACKET_VNET_HDR, 1, e.GetVnetHdr()},
		{"PACKET_LOSS", unix.PACKET_LOSS, 1, e.GetLoss()},
	}
	for _, o := range ints {
		if !o.on {
			continue
		}
		if err := set(o.name, o.opt, int(o.v)); err != nil {
			return fd, err
		}
	}
	for _, m := range e.GetMclist() {
		if len(m.GetAddr()) > maxMcAddr {
			return fd, fmt.Errorf("%w: packet socket membership of a %d-byte address", errdefs.ErrUnsupported, len(m.GetAddr()))
		}
		mr := &unix.PacketMreq{Ifindex: int32(m.GetIndex()), Type: uint16(m.GetType()), Alen: uint16(len(m.GetAddr()))}
		copy(mr.Address[:], m.GetAddr())
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mr); err != nil {
			return fd, fmt.Errorf("membership of type %d on ifindex %d: %w", m.GetType(), m.GetIndex(), os.NewSyscallError("setsockopt(PACKET_ADD_MEMBERSHIP)", err))
		}
	}
	if e.Fanout != nil && e.GetFanout() != ^uint32(0) {
		if err := set("PACKET_FANOUT", unix.PACKET_FANOUT, int(e.GetFanout())); err != nil {
			return fd, err
		}
	}
	return fd, nil
}

// htons gives a protocol number in network byte order, as socket(2)
// and the image take it.
func htons(v uint16) uint16 { return bits.ReverseBytes16(v) }
