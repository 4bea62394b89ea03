package ptrace

import (
	"encoding/binary"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// The NT_X86_XSTATE regset is the standard (non-compacted) xsave layout:
//
//	0    fxsave legacy area (struct fxregs_state, asm/fpu/types.h):
//	     cwd u16 @0, swd @2, twd @4, fop @6, rip u64 @8, rdp @16,
//	     mxcsr u32 @24, mxcsr_mask @28, st_space 32 u32 @32,
//	     xmm_space 64 u32 @160, padding 24 u32 @416
//	512  xsave header: xstate_bv u64 @512, xcomp_bv, reserved
//	576  extended components, each at its CPUID 0xD offset (XstateLayout)
//
// FpregsFromXstate and XstateFromFpregs map it to CRIU's
// user_x86_fpregs_entry and back, through the two tables below.
const (
	xsaveHeader  = 512 // offset of the xsave header (xstate_bv)
	xsaveMinSize = 576 // legacy area and header: the smallest buffer with a header
	// xsaveLegacyBV is xstate_bv for x87 and SSE state only.
	xsaveLegacyBV = 3
)

// legacyWords are the u32 arrays of the legacy area, n words each.
var legacyWords = []struct {
	off, n int
	field  func(*images.UserX86FpregsEntry) *[]uint32
}{
	{32, 32, func(f *images.UserX86FpregsEntry) *[]uint32 { return &f.StSpace }},
	{160, 64, func(f *images.UserX86FpregsEntry) *[]uint32 { return &f.XmmSpace }},
	{416, 24, func(f *images.UserX86FpregsEntry) *[]uint32 { return &f.Padding }},
}

// xsaveComponents are the extended components that user_x86_xsave_entry
// holds, as u32 or u64 words: exactly one of u32 and u64 is set.
var xsaveComponents = []struct {
	comp int
	u32  func(*images.UserX86XsaveEntry) *[]uint32
	u64  func(*images.UserX86XsaveEntry) *[]uint64
}{
	{comp: 2, u32: func(x *images.UserX86XsaveEntry) *[]uint32 { return &x.YmmhSpace }},
	{comp: 3, u64: func(x *images.UserX86XsaveEntry) *[]uint64 { return &x.BndregState }},
	{comp: 4, u64: func(x *images.UserX86XsaveEntry) *[]uint64 { return &x.BndcsrState }},
	{comp: 5, u64: func(x *images.UserX86XsaveEntry) *[]uint64 { return &x.OpmaskReg }},
	{comp: 6, u64: func(x *images.UserX86XsaveEntry) *[]uint64 { return &x.ZmmUpper }},
	{comp: 7, u64: func(x *images.UserX86XsaveEntry) *[]uint64 { return &x.Hi16Zmm }},
	{comp: 9, u32: func(x *images.UserX86XsaveEntry) *[]uint32 { return &x.Pkru }},
}

// FpregsFromXstate converts an NT_X86_XSTATE buffer of at least 32 bytes
// into CRIU's user_x86_fpregs_entry. Legacy words past the end of b read
// as zero; a buffer shorter than the header gives no xsave entry; an
// extended component the CPU lacks, or that b does not hold whole, is
// left out.
func FpregsFromXstate(b []byte) *images.UserX86FpregsEntry {
	le := binary.LittleEndian
	fp := &images.UserX86FpregsEntry{
		Cwd:       proto.Uint32(uint32(le.Uint16(b[0:]))),
		Swd:       proto.Uint32(uint32(le.Uint16(b[2:]))),
		Twd:       proto.Uint32(uint32(le.Uint16(b[4:]))),
		Fop:       proto.Uint32(uint32(le.Uint16(b[6:]))),
		Rip:       proto.Uint64(le.Uint64(b[8:])),
		Rdp:       proto.Uint64(le.Uint64(b[16:])),
		Mxcsr:     proto.Uint32(le.Uint32(b[24:])),
		MxcsrMask: proto.Uint32(le.Uint32(b[28:])),
	}
	for _, w := range legacyWords {
		*w.field(fp) = getWords[uint32](b, w.off, w.n)
	}
	if len(b) < xsaveMinSize {
		return fp
	}
	xs := &images.UserX86XsaveEntry{XstateBv: proto.Uint64(le.Uint64(b[xsaveHeader:]))}
	for _, c := range xsaveComponents {
		l := XstateLayout(c.comp)
		if l.Size == 0 || l.Offset+l.Size > len(b) {
			continue
		}
		if c.u32 != nil {
			*c.u32(xs) = getWords[uint32](b, l.Offset, l.Size/4)
		} else {
			*c.u64(xs) = getWords[uint64](b, l.Offset, l.Size/8)
		}
	}
	fp.Xsave = xs
	return fp
}

// XstateFromFpregs builds an NT_X86_XSTATE buffer of this CPU's size (at
// least the legacy area and header) from CRIU's user_x86_fpregs_entry.
// Each array is written up to the size of its place, extra words are
// dropped; a component this CPU lacks is dropped. An entry without xsave
// (legacy state only) gets xstate_bv 3 (x87 and SSE).
func XstateFromFpregs(fp *images.UserX86FpregsEntry) []byte {
	b := make([]byte, max(XstateSize(), xsaveMinSize))
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(fp.GetCwd()))
	le.PutUint16(b[2:], uint16(fp.GetSwd()))
	le.PutUint16(b[4:], uint16(fp.GetTwd()))
	le.PutUint16(b[6:], uint16(fp.GetFop()))
	le.PutUint64(b[8:], fp.GetRip())
	le.PutUint64(b[16:], fp.GetRdp())
	le.PutUint32(b[24:], fp.GetMxcsr())
	le.PutUint32(b[28:], fp.GetMxcsrMask())
	for _, w := range legacyWords {
		putWords(b, w.off, *w.field(fp), w.n)
	}
	xs := fp.GetXsave()
	if xs == nil {
		le.PutUint64(b[xsaveHeader:], xsaveLegacyBV)
		return b
	}
	le.PutUint64(b[xsaveHeader:], xs.GetXstateBv())
	for _, c := range xsaveComponents {
		l := XstateLayout(c.comp)
		if l.Size == 0 {
			continue
		}
		if c.u32 != nil {
			putWords(b, l.Offset, *c.u32(xs), l.Size/4)
		} else {
			putWords(b, l.Offset, *c.u64(xs), l.Size/8)
		}
	}
	return b
}

// getWords reads n little-endian words at byte offset off of b; a word
// past the end of b reads as zero.
func getWords[T uint32 | uint64](b []byte, off, n int) []T {
	w := wordSize[T]()
	out := make([]T, n)
	for i := range out {
		o := off + i*w
		if o+w > len(b) {
			continue
		}
		if w == 4 {
			out[i] = T(binary.LittleEndian.Uint32(b[o:]))
		} else {
			out[i] = T(binary.LittleEndian.Uint64(b[o:]))
		}
	}
	return out
}

// putWords writes at most n words of v little-endian at byte offset off
// of b, stopping at the first word that does not fit in b.
func putWords[T uint32 | uint64](b []byte, off int, v []T, n int) {
	w := wordSize[T]()
	for i, x := range v {
		o := off + i*w
		if i >= n || o+w > len(b) {
			return
		}
		if w == 4 {
			binary.LittleEndian.PutUint32(b[o:], uint32(x))
		} else {
			binary.LittleEndian.PutUint64(b[o:], uint64(x))
		}
	}
}

func wordSize[T uint32 | uint64]() int {
	var z T
	if _, ok := any(z).(uint32); ok {
		return 4
	}
	return 8
}
