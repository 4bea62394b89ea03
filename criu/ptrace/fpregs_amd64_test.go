package ptrace_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

// words returns n distinct non-zero words starting at seed.
func words[T uint32 | uint64](seed T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = seed + T(i)*0x01010101
	}
	return out
}

// fullFpregs is an entry with every field this CPU's xstate has filled.
func fullFpregs() *images.UserX86FpregsEntry {
	fp := &images.UserX86FpregsEntry{
		Cwd: proto.Uint32(0x37f), Swd: proto.Uint32(0x1234), Twd: proto.Uint32(0xff), Fop: proto.Uint32(0x7ff),
		Rip: proto.Uint64(0x1122334455667788), Rdp: proto.Uint64(0x8877665544332211),
		Mxcsr: proto.Uint32(0x1f80), MxcsrMask: proto.Uint32(0xffff),
		StSpace: words[uint32](0x10000000, 32), XmmSpace: words[uint32](0x20000000, 64), Padding: words[uint32](0x30000000, 24),
	}
	// Each component this CPU has is filled whole; the others stay out.
	u32 := func(comp int, seed uint32) []uint32 {
		if n := ptrace.XstateLayout(comp).Size; n > 0 {
			return words(seed, n/4)
		}
		return nil
	}
	u64 := func(comp int, seed uint64) []uint64 {
		if n := ptrace.XstateLayout(comp).Size; n > 0 {
			return words(seed, n/8)
		}
		return nil
	}
	xs := &images.UserX86XsaveEntry{
		XstateBv:  proto.Uint64(0xe7),
		YmmhSpace: u32(2, 0x40000000), BndregState: u64(3, 0x50000000), BndcsrState: u64(4, 0x60000000),
		OpmaskReg: u64(5, 0x70000000), ZmmUpper: u64(6, 0x80000000), Hi16Zmm: u64(7, 0x90000000),
		Pkru: u32(9, 0xa0000000),
	}
	fp.Xsave = xs
	return fp
}

func TestFpregsRoundTrip(t *testing.T) {
	fp := fullFpregs()
	b := ptrace.XstateFromFpregs(fp)
	if want := max(ptrace.XstateSize(), 576); len(b) != want {
		t.Fatalf("buffer of %d bytes, want %d", len(b), want)
	}
	if got := ptrace.FpregsFromXstate(b); !proto.Equal(got, fp) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, fp)
	}
}

// TestXstateOffsets pins where fields land: the legacy area is struct
// fxregs_state (asm/fpu/types.h), the components sit at CPUID's offsets.
func TestXstateOffsets(t *testing.T) {
	b := ptrace.XstateFromFpregs(fullFpregs())
	le := binary.LittleEndian
	for _, c := range []struct {
		name      string
		off, size int
		want      uint64
	}{
		{"cwd", 0, 2, 0x37f}, {"swd", 2, 2, 0x1234}, {"twd", 4, 2, 0xff}, {"fop", 6, 2, 0x7ff},
		{"rip", 8, 8, 0x1122334455667788}, {"rdp", 16, 8, 0x8877665544332211},
		{"mxcsr", 24, 4, 0x1f80}, {"mxcsr_mask", 28, 4, 0xffff},
		{"st_space[0]", 32, 4, 0x10000000}, {"st_space[31]", 156, 4, 0x10000000 + 31*0x01010101},
		{"xmm_space[0]", 160, 4, 0x20000000}, {"xmm_space[63]", 412, 4, 0x20000000 + 63*0x01010101},
		{"padding[0]", 416, 4, 0x30000000}, {"padding[23]", 508, 4, 0x30000000 + 23*0x01010101},
		{"xstate_bv", 512, 8, 0xe7},
	} {
		var got uint64
		switch c.size {
		case 2:
			got = uint64(le.Uint16(b[c.off:]))
		case 4:
			got = uint64(le.Uint32(b[c.off:]))
		case 8:
			got = le.Uint64(b[c.off:])
		}
		if got != c.want {
			t.Errorf("%s at %d: %#x, want %#x", c.name, c.off, got, c.want)
		}
	}
	if l := ptrace.XstateLayout(2); l.Size > 0 && le.Uint32(b[l.Offset:]) != 0x40000000 {
		t.Errorf("ymmh[0] at %d: %#x", l.Offset, le.Uint32(b[l.Offset:]))
	}
	if l := ptrace.XstateLayout(7); l.Size > 0 && le.Uint64(b[l.Offset+l.Size-8:]) != 0x90000000+uint64(l.Size/8-1)*0x01010101 {
		t.Errorf("hi16_zmm last word at %d: %#x", l.Offset+l.Size-8, le.Uint64(b[l.Offset+l.Size-8:]))
	}
}

func TestFpregsLegacyOnly(t *testing.T) {
	fp := fullFpregs()
	fp.Xsave = nil
	b := ptrace.XstateFromFpregs(fp)
	if bv := binary.LittleEndian.Uint64(b[512:]); bv != 3 {
		t.Fatalf("xstate_bv %#x for legacy state only, want 3 (x87, SSE)", bv)
	}
	// A bare fxsave area (no header) decodes without xsave.
	got := ptrace.FpregsFromXstate(b[:512])
	if got.Xsave != nil {
		t.Fatalf("xsave %v from 512 bytes", got.Xsave)
	}
	if !proto.Equal(got, fp) {
		t.Fatalf("legacy area:\n got %v\nwant %v", got, fp)
	}
}

// TestFpregsBounds: too many words in an image stop at their place, and
// a buffer cut short drops the components it does not hold whole.
func TestFpregsBounds(t *testing.T) {
	fp := fullFpregs()
	fp.StSpace = words[uint32](0xdead0000, 40) // 8 words too many
	if fp.Xsave.YmmhSpace != nil {
		fp.Xsave.YmmhSpace = append(fp.Xsave.YmmhSpace, 0xbad, 0xbad)
	}
	b := ptrace.XstateFromFpregs(fp)
	if got := binary.LittleEndian.Uint32(b[160:]); got != 0x20000000 {
		t.Fatalf("st_space spilled into xmm_space: %#x", got)
	}
	dec := ptrace.FpregsFromXstate(b)
	if len(dec.StSpace) != 32 || dec.StSpace[31] != 0xdead0000+31*0x01010101 {
		t.Fatalf("st_space %d words, last %#x", len(dec.StSpace), dec.StSpace[len(dec.StSpace)-1])
	}
	ymm, zmm := ptrace.XstateLayout(2), ptrace.XstateLayout(7)
	if ymm.Size == 0 || zmm.Size == 0 {
		t.Skip("this CPU has no AVX-512 state")
	}
	if len(dec.Xsave.YmmhSpace) != ymm.Size/4 {
		t.Fatalf("ymmh %d words, want %d", len(dec.Xsave.YmmhSpace), ymm.Size/4)
	}
	if next := ymm.Offset + ymm.Size; next < len(b) && binary.LittleEndian.Uint32(b[next:]) == 0xbad {
		t.Fatal("ymmh spilled past its component")
	}
	cut := ptrace.FpregsFromXstate(b[:zmm.Offset+zmm.Size-1])
	if cut.Xsave.Hi16Zmm != nil {
		t.Fatal("hi16_zmm decoded from a buffer that does not hold it whole")
	}
	if !slices.Equal(cut.Xsave.YmmhSpace, dec.Xsave.YmmhSpace) {
		t.Fatal("ymmh lost by cutting a later component")
	}
	// Words past a short buffer read as zero.
	short := ptrace.FpregsFromXstate(b[:200])
	if len(short.XmmSpace) != 64 || short.XmmSpace[9] != 0x20000000+9*0x01010101 || short.XmmSpace[10] != 0 {
		t.Fatalf("xmm_space from 200 bytes: %x", short.XmmSpace)
	}
}

// TestXstateImageRoundTrip takes a live thread's xstate through the
// image entry and back into the thread: every byte the entry covers comes
// back the same, and the kernel takes the rebuilt buffer.
func TestXstateImageRoundTrip(t *testing.T) {
	pid, _ := startSpin(t)

	tr := ptrace.NewTracer()
	defer tr.Close()
	if err := tr.Seize(pid, 0); err != nil {
		t.Fatal(err)
	}
	defer tr.Detach(pid, 0)
	xs, err := tr.GetXstate(pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != ptrace.XstateSize() {
		t.Fatalf("regset of %d bytes, CPUID says %d", len(xs), ptrace.XstateSize())
	}
	rebuilt := ptrace.XstateFromFpregs(ptrace.FpregsFromXstate(xs))
	covered := [][2]int{{0, 520}} // legacy area and xstate_bv
	for _, i := range []int{2, 3, 4, 5, 6, 7, 9} {
		if l := ptrace.XstateLayout(i); l.Size > 0 {
			covered = append(covered, [2]int{l.Offset, l.Offset + l.Size})
		}
	}
	for _, r := range covered {
		if !bytes.Equal(xs[r[0]:r[1]], rebuilt[r[0]:r[1]]) {
			t.Fatalf("bytes %d..%d differ after image round trip", r[0], r[1])
		}
	}
	if err := tr.SetXstate(pid, rebuilt); err != nil {
		t.Fatalf("kernel refuses the rebuilt xstate: %v", err)
	}
	back, err := tr.GetXstate(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range covered {
		if !bytes.Equal(back[r[0]:r[1]], xs[r[0]:r[1]]) {
			t.Fatalf("bytes %d..%d read back differ from the original", r[0], r[1])
		}
	}
}
