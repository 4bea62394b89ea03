package packet

import (
	"fmt"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// vnetHdrLen is sizeof(struct virtio_net_hdr), the header size
// PACKET_VNET_HDR sets.
const vnetHdrLen = 10

// maxMcAddr is the address a membership's setsockopt (struct
// packet_mreq) carries.
const maxMcAddr = 8

// Dump reads the packet socket fd (a copy of the task's), which d (from
// List) describes: every field of its entry but id, flags, fown and
// opts, which the caller fills. It refuses what Open could not make
// again (the package doc).
func Dump(fd int, d *Diag) (*images.PacketSockEntry, error) {
	switch {
	case d.Type != unix.SOCK_RAW && d.Type != unix.SOCK_DGRAM && d.Type != unix.SOCK_PACKET:
		return nil, fmt.Errorf("%w: packet socket of type %d", errdefs.ErrUnsupported, d.Type)
	}
	e := &images.PacketSockEntry{
		Type: proto.Uint32(uint32(d.Type)), Protocol: proto.Uint32(uint32(htons(d.Num))),
		Ifindex: proto.Uint32(d.Ifindex), Version: proto.Uint32(d.Version), Reserve: proto.Uint32(d.Reserve),
		AuxData: proto.Bool(d.Flags&pdiAuxdata != 0), OrigDev: proto.Bool(d.Flags&pdiOrigdev != 0),
		VnetHdr: proto.Bool(d.Flags&pdiVnethdr != 0), Loss: proto.Bool(d.Flags&pdiLoss != 0),
		Timestamp: proto.Uint32(d.TS), CopyThresh: proto.Uint32(d.CopyThresh),
		RxRing: ringEntry(d.RxRing), TxRing: ringEntry(d.TxRing),
	}
	if sz, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR_SZ); err == nil {
		want := 0
		if e.GetVnetHdr() {
			want = vnetHdrLen
		}
		if sz != want {
			return nil, fmt.Errorf("%w: packet socket with a vnet header of %d bytes (PACKET_VNET_HDR_SZ), which the images cannot hold", errdefs.ErrUnsupported, sz)
		}
	}
	for _, m := range d.Mclist {
		if len(m.Addr) > maxMcAddr {
			return nil, fmt.Errorf("%w: packet socket membership of a %d-byte address", errdefs.ErrUnsupported, len(m.Addr))
		}
		for range m.Count {
			e.Mclist = append(e.Mclist, &images.PacketMclist{
				Index: proto.Uint32(m.Ifindex), Type: proto.Uint32(uint32(m.Type)), Addr: append([]byte{}, m.Addr...),
			})
		}
	}
	if d.HasFanout {
		f, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
		if err != nil {
			return nil, fmt.Errorf("getsockopt(PACKET_FANOUT): %w", err)
		}
		// A group made with PACKET_FANOUT_FLAG_UNIQUEID keeps the id
		// the kernel chose, without the flag: restore asks for that id.
		if typ := (f >> 16) & 0xff; typ == unix.PACKET_FANOUT_CBPF || typ == unix.PACKET_FANOUT_EBPF {
			return nil, fmt.Errorf("%w: packet socket in a fanout group of type %d (PACKET_FANOUT_CBPF/EBPF: its BPF program cannot be read back)", errdefs.ErrUnsupported, typ)
		}
		e.Fanout = proto.Uint32(uint32(f))
	}
	return e, nil
}

// ringEntry is CRIU's packet_ring of r (nil: no ring). A mapping of the
// ring in a task is package vmflags' to refuse: only the ring's
// geometry is saved, not its frames, as in CRIU.
func ringEntry(r *Ring) *images.PacketRing {
	if r == nil {
		return nil
	}
	return &images.PacketRing{
		BlockSize: proto.Uint32(r.BlockSize), BlockNr: proto.Uint32(r.BlockNr), FrameSize: proto.Uint32(r.FrameSize),
		FrameNr: proto.Uint32(r.FrameNr), RetireTmo: proto.Uint32(r.RetireTmo), SizeofPriv: proto.Uint32(r.SizeofPriv),
		Features: proto.Uint32(r.Features),
	}
}
