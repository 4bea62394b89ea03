package dump

import (
	"encoding/binary"

	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
	"google.golang.org/protobuf/proto"
)

// fpregsFromXstate converts an NT_X86_XSTATE buffer (standard xsave
// layout: 512-byte legacy area, 64-byte header, components at the CPUID
// offsets) into CRIU's user_x86_fpregs_entry.
func fpregsFromXstate(b []byte) *images.UserX86FpregsEntry {
	le := binary.LittleEndian
	u32s := func(off, n int) []uint32 {
		out := make([]uint32, n)
		for i := range out {
			if off+4*i+4 <= len(b) {
				out[i] = le.Uint32(b[off+4*i:])
			}
		}
		return out
	}
	u64s := func(off, n int) []uint64 {
		out := make([]uint64, n)
		for i := range out {
			if off+8*i+8 <= len(b) {
				out[i] = le.Uint64(b[off+8*i:])
			}
		}
		return out
	}
	fp := &images.UserX86FpregsEntry{
		Cwd:       proto.Uint32(uint32(le.Uint16(b[0:]))),
		Swd:       proto.Uint32(uint32(le.Uint16(b[2:]))),
		Twd:       proto.Uint32(uint32(le.Uint16(b[4:]))),
		Fop:       proto.Uint32(uint32(le.Uint16(b[6:]))),
		Rip:       proto.Uint64(le.Uint64(b[8:])),
		Rdp:       proto.Uint64(le.Uint64(b[16:])),
		Mxcsr:     proto.Uint32(le.Uint32(b[24:])),
		MxcsrMask: proto.Uint32(le.Uint32(b[28:])),
		StSpace:   u32s(32, 32),
		XmmSpace:  u32s(160, 64),
		Padding:   u32s(416, 24),
	}
	if len(b) < 576 {
		return fp
	}
	xs := &images.UserX86XsaveEntry{XstateBv: proto.Uint64(le.Uint64(b[512:]))}
	comp := func(i int) (int, int, bool) {
		c := ptrace.XstateLayout(i)
		if c.Size == 0 || c.Offset+c.Size > len(b) {
			return 0, 0, false
		}
		return c.Offset, c.Size, true
	}
	if off, sz, ok := comp(2); ok {
		xs.YmmhSpace = u32s(off, sz/4)
	}
	if off, sz, ok := comp(3); ok {
		xs.BndregState = u64s(off, sz/8)
	}
	if off, sz, ok := comp(4); ok {
		xs.BndcsrState = u64s(off, sz/8)
	}
	if off, sz, ok := comp(5); ok {
		xs.OpmaskReg = u64s(off, sz/8)
	}
	if off, sz, ok := comp(6); ok {
		xs.ZmmUpper = u64s(off, sz/8)
	}
	if off, sz, ok := comp(7); ok {
		xs.Hi16Zmm = u64s(off, sz/8)
	}
	if off, sz, ok := comp(9); ok {
		xs.Pkru = u32s(off, sz/4)
	}
	fp.Xsave = xs
	return fp
}
