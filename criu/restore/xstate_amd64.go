package restore

import (
	"encoding/binary"

	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

// xstateFromImage builds an NT_X86_XSTATE buffer (standard layout) from
// CRIU's user_x86_fpregs_entry.
func xstateFromImage(fp *images.UserX86FpregsEntry) []byte {
	size := ptrace.XstateSize()
	if size < 576 {
		size = 576
	}
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(fp.GetCwd()))
	le.PutUint16(b[2:], uint16(fp.GetSwd()))
	le.PutUint16(b[4:], uint16(fp.GetTwd()))
	le.PutUint16(b[6:], uint16(fp.GetFop()))
	le.PutUint64(b[8:], fp.GetRip())
	le.PutUint64(b[16:], fp.GetRdp())
	le.PutUint32(b[24:], fp.GetMxcsr())
	le.PutUint32(b[28:], fp.GetMxcsrMask())
	put32 := func(off int, v []uint32, max int) {
		for i, x := range v {
			if i*4+4 > max || off+i*4+4 > len(b) {
				return
			}
			le.PutUint32(b[off+i*4:], x)
		}
	}
	put64 := func(off int, v []uint64, max int) {
		for i, x := range v {
			if i*8+8 > max || off+i*8+8 > len(b) {
				return
			}
			le.PutUint64(b[off+i*8:], x)
		}
	}
	put32(32, fp.GetStSpace(), 128)
	put32(160, fp.GetXmmSpace(), 256)
	put32(416, fp.GetPadding(), 96)
	xs := fp.GetXsave()
	if xs == nil {
		// Legacy state only: say so in the header.
		le.PutUint64(b[512:], 3)
		return b
	}
	le.PutUint64(b[512:], xs.GetXstateBv())
	comp := func(i int) (int, int) {
		c := ptrace.XstateLayout(i)
		return c.Offset, c.Size
	}
	if off, sz := comp(2); sz > 0 {
		put32(off, xs.GetYmmhSpace(), sz)
	}
	if off, sz := comp(3); sz > 0 {
		put64(off, xs.GetBndregState(), sz)
	}
	if off, sz := comp(4); sz > 0 {
		put64(off, xs.GetBndcsrState(), sz)
	}
	if off, sz := comp(5); sz > 0 {
		put64(off, xs.GetOpmaskReg(), sz)
	}
	if off, sz := comp(6); sz > 0 {
		put64(off, xs.GetZmmUpper(), sz)
	}
	if off, sz := comp(7); sz > 0 {
		put64(off, xs.GetHi16Zmm(), sz)
	}
	if off, sz := comp(9); sz > 0 {
		put32(off, xs.GetPkru(), sz)
	}
	return b
}
