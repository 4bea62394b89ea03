package packet

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

// TPACKET versions (PACKET_VERSION).
const tpacketV3 = 2

// ErrRingUsed is a ring that has carried frames: the kernel's place in
// it (the next frame it fills or sends) can be neither read nor set,
// and a new ring starts at the first frame, while the task goes on at
// its own; frames it has not read or sent yet would be lost as well.
var ErrRingUsed = fmt.Errorf("%w: a packet socket's ring that has carried frames (the kernel's place in it cannot be read or set)", errdefs.ErrUnsupported)

// CheckRings refuses the rings of socket fd (d its diag) unless each is
// as the kernel made it, so that a new ring of the same geometry is the
// same (ErrRingUsed): a TPACKET_V1/V2 ring, and any TX ring, all zeros
// (the kernel writes a frame's header when it fills or sends it, and
// the task its frames before asking for a send); a TPACKET_V3 RX ring
// with its first block as opened (seq_num 1, no packets, not the
// task's) and the others all zeros. It reads them through a mapping of
// its own of fd. The frames are not saved, as in CRIU (whose restore
// starts every ring empty at its first frame whatever it held).
func CheckRings(fd int, d *Diag) error {
	rx, tx := d.RxRing.size(), d.TxRing.size()
	if rx+tx == 0 {
		return nil
	}
	b, err := unix.Mmap(fd, 0, rx+tx, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return os.NewSyscallError("mmap(packet ring)", err)
	}
	defer unix.Munmap(b)
	ring, skip := b[:rx], 0
	if rx > 0 && d.Version == tpacketV3 {
		// struct tpacket_block_desc: version, offset_to_priv, then
		// tpacket_hdr_v1: block_status, num_pkts, offset_to_first_pkt,
		// blk_len, seq_num (u64)...
		h := ring[:d.RxRing.BlockSize]
		le := binary.LittleEndian
		if le.Uint32(h[8:])&unix.TP_STATUS_USER != 0 || le.Uint32(h[12:]) != 0 || le.Uint64(h[24:]) != 1 {
			return fmt.Errorf("RX: %w", ErrRingUsed)
		}
		skip = len(h)
	}
	for _, part := range []struct {
		name string
		b    []byte
	}{{"RX", ring[skip:]}, {"TX", b[rx:]}} {
		for _, c := range part.b {
			if c != 0 {
				return fmt.Errorf("%s: %w", part.name, ErrRingUsed)
			}
		}
	}
	return nil
}

// size is the bytes of r (nil: none).
func (r *Ring) size() int {
	if r == nil {
		return 0
	}
	return int(r.BlockSize) * int(r.BlockNr)
}

// RingSize is the size of d's rings, which a task maps whole, RX then
// TX (0: none, or d nil).
func (d *Diag) RingSize() uint64 {
	if d == nil {
		return 0
	}
	return uint64(d.RxRing.size() + d.TxRing.size())
}
