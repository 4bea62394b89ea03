package packet

import (
	"fmt"
	"math/bits"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Open makes, in the restorer and the tree's network namespace, the
// packet socket e describes: bound to its interface, with its
// SOL_PACKET options, memberships and fanout group. The caller sets
// the SOL_SOCKET options and the file status flags, and closes fd if it
// fails after Open.
func Open(e *images.PacketSockEntry) (fd int, err error) {
	typ := int(e.GetType())
	if typ != unix.SOCK_RAW && typ != unix.SOCK_DGRAM && typ != unix.SOCK_PACKET {
		return -1, fmt.Errorf("%w: packet socket of type %d", errdefs.ErrUnsupported, typ)
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
	if typ == unix.SOCK_PACKET {
		return fd, openSpkt(fd, e)
	}
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
	// After PACKET_VERSION, RESERVE, VNET_HDR and LOSS, which a ring
	// makes EBUSY.
	for _, r := range []struct {
		name string
		opt  int
		r    *images.PacketRing
	}{{"PACKET_RX_RING", unix.PACKET_RX_RING, e.GetRxRing()}, {"PACKET_TX_RING", unix.PACKET_TX_RING, e.GetTxRing()}} {
		if err := setRing(fd, r.opt, e.GetVersion(), r.r); err != nil {
			return fd, fmt.Errorf("%s: %w", r.name, err)
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

// setRing sets the ring r (nil: none) of a socket of TPACKET version v
// with opt (PACKET_RX_RING, PACKET_TX_RING): a tpacket_req3 for
// TPACKET_V3, a tpacket_req (its first four fields) before. Its frames
// start empty.
func setRing(fd, opt int, v uint32, r *images.PacketRing) error {
	if r == nil {
		return nil
	}
	var err error
	if v == unix.TPACKET_V3 {
		err = unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, opt, &unix.TpacketReq3{
			Block_size: r.GetBlockSize(), Block_nr: r.GetBlockNr(), Frame_size: r.GetFrameSize(), Frame_nr: r.GetFrameNr(),
			Retire_blk_tov: r.GetRetireTmo(), Sizeof_priv: r.GetSizeofPriv(), Feature_req_word: r.GetFeatures(),
		})
	} else {
		err = unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, opt, &unix.TpacketReq{
			Block_size: r.GetBlockSize(), Block_nr: r.GetBlockNr(), Frame_size: r.GetFrameSize(), Frame_nr: r.GetFrameNr(),
		})
	}
	if err != nil {
		return fmt.Errorf("%d blocks of %d bytes, %d frames of %d: %w", r.GetBlockNr(), r.GetBlockSize(), r.GetFrameNr(), r.GetFrameSize(), os.NewSyscallError("setsockopt", err))
	}
	return nil
}

// openSpkt binds fd, a SOCK_PACKET socket, to the device of e's ifindex
// (by its name, as SOCK_PACKET binds; none: it stays unbound). It has no
// SOL_PACKET options (setsockopt: EOPNOTSUPP), so e must hold none but
// the defaults.
func openSpkt(fd int, e *images.PacketSockEntry) error {
	if len(e.GetMclist()) > 0 || e.Fanout != nil || e.GetRxRing() != nil || e.GetTxRing() != nil || e.GetVersion() != 0 ||
		e.GetReserve() != 0 || e.GetAuxData() || e.GetOrigDev() || e.GetVnetHdr() || e.GetLoss() || e.GetTimestamp() != 0 {
		return fmt.Errorf("%w: a SOCK_PACKET socket with SOL_PACKET state (options, memberships, fanout, rings), which it cannot have", errdefs.ErrBadImage)
	}
	if e.GetIfindex() == 0 {
		return nil
	}
	ifr := &unix.Ifreq{}
	ifr.SetUint32(e.GetIfindex())
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFNAME, ifr); err != nil {
		return fmt.Errorf("the name of ifindex %d: %w", e.GetIfindex(), os.NewSyscallError("ioctl(SIOCGIFNAME)", err))
	}
	if err := linux.BindPacketDevice(fd, ifr.Name()); err != nil {
		return fmt.Errorf("bind to %s (ifindex %d): %w", ifr.Name(), e.GetIfindex(), err)
	}
	return nil
}
