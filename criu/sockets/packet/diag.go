package packet

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets/sockdiag"
)

// packet_diag request and reply layout (include/uapi/linux/packet_diag.h).
const (
	diagReqLen  = 20 // struct packet_diag_req
	diagMsgLen  = 16 // struct packet_diag_msg
	infoLen     = 24 // struct packet_diag_info
	mclistLen   = 44 // struct packet_diag_mclist
	ringLen     = 28 // struct packet_diag_ring
	maxAddrLen  = 32 // MAX_ADDR_LEN, the size of pdmc_addr
	showInfo    = 0x01
	showMclist  = 0x02
	showRingCfg = 0x04
	showFanout  = 0x08
	attrInfo    = 0
	attrMclist  = 1
	attrRxRing  = 2
	attrTxRing  = 3
	attrFanout  = 4
)

// The flags of packet_diag_info.
const (
	pdiAuxdata = 0x2
	pdiOrigdev = 0x4
	pdiVnethdr = 0x8
	pdiLoss    = 0x10
)

// Diag is what sock_diag tells of one packet socket.
type Diag struct {
	Ino  uint32
	Type uint8
	// Num is the protocol the socket hooks (po->num) in host order.
	Num                                       uint16
	Ifindex, Version, Reserve, CopyThresh, TS uint32
	Flags                                     uint32
	Mclist                                    []Mc
	// RxRing, TxRing are the rings set up (PACKET_MMAP), or nil.
	RxRing, TxRing *Ring
	HasFanout      bool
	Fanout         uint32
}

// Ring is a ring's geometry (struct packet_diag_ring): the fields of
// tpacket_req3 (retire_tmo, sizeof_priv and features for TPACKET_V3
// only) that PACKET_RX_RING or PACKET_TX_RING set.
type Ring struct {
	BlockSize, BlockNr, FrameSize, FrameNr, RetireTmo, SizeofPriv, Features uint32
}

func parseRing(v []byte) *Ring {
	if len(v) < ringLen {
		return nil
	}
	le := binary.LittleEndian
	return &Ring{le.Uint32(v), le.Uint32(v[4:]), le.Uint32(v[8:]), le.Uint32(v[12:]), le.Uint32(v[16:]), le.Uint32(v[20:]), le.Uint32(v[24:])}
}

// Mc is one membership (packet_diag_mclist): Count times the same one.
type Mc struct {
	Ifindex, Count uint32
	Type           uint16
	Addr           []byte
}

// List asks sock_diag for every packet socket of the calling thread's
// network namespace, by inode. A kernel without packet_diag fails with
// ENOENT.
func List() (map[uint32]*Diag, error) {
	le := binary.LittleEndian
	req := make([]byte, diagReqLen)
	req[0] = unix.AF_PACKET
	le.PutUint32(req[8:], showInfo|showMclist|showRingCfg|showFanout)
	le.PutUint32(req[12:], ^uint32(0)) // no cookie
	le.PutUint32(req[16:], ^uint32(0))
	out := map[uint32]*Diag{}
	err := sockdiag.Dump(req, func(m []byte) error {
		d, err := parseDiag(m)
		if err != nil {
			return err
		}
		out[d.Ino] = d
		return nil
	})
	return out, err
}

func parseDiag(b []byte) (*Diag, error) {
	le := binary.LittleEndian
	if len(b) < diagMsgLen {
		return nil, fmt.Errorf("sock_diag: short packet_diag_msg (%d bytes)", len(b))
	}
	d := &Diag{Type: b[1], Num: le.Uint16(b[2:]), Ino: le.Uint32(b[4:])}
	var info bool
	var bad error
	err := sockdiag.Attrs(b[diagMsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case attrInfo:
			if len(v) < infoLen {
				bad = fmt.Errorf("sock_diag: short packet_diag_info (%d bytes)", len(v))
				return
			}
			info = true
			d.Ifindex, d.Version, d.Reserve = le.Uint32(v), le.Uint32(v[4:]), le.Uint32(v[8:])
			d.CopyThresh, d.TS, d.Flags = le.Uint32(v[12:]), le.Uint32(v[16:]), le.Uint32(v[20:])
		case attrMclist:
			for ; len(v) >= mclistLen; v = v[mclistLen:] {
				alen := min(int(le.Uint16(v[10:])), maxAddrLen)
				d.Mclist = append(d.Mclist, Mc{
					Ifindex: le.Uint32(v), Count: le.Uint32(v[4:]), Type: le.Uint16(v[8:]),
					Addr: append([]byte{}, v[12:12+alen]...),
				})
			}
		case attrRxRing:
			d.RxRing = parseRing(v)
		case attrTxRing:
			d.TxRing = parseRing(v)
		case attrFanout:
			if len(v) >= 4 {
				d.HasFanout, d.Fanout = true, le.Uint32(v)
			}
		}
	})
	if err == nil {
		err = bad
	}
	if err == nil && !info {
		err = fmt.Errorf("sock_diag: packet socket %d without packet_diag_info", d.Ino)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}
