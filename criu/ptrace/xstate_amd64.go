package ptrace

import "sync"

// cpuid executes CPUID with the given leaf and subleaf.
func cpuid(eax, ecx uint32) (a, b, c, d uint32)

// XstateComponent is where one xsave component lives in the standard
// (non-compacted) layout that NT_X86_XSTATE uses.
type XstateComponent struct {
	Offset, Size int
}

// CPUID leaf 0xD is read once a process, subleaf by subleaf as asked
// for: the size of the user xstate buffer (subleaf 0) and the place of
// each component. CPUID exits to the hypervisor in a VM (some 10 us a
// call here), and a dump or restore asks for each component of each
// thread.
var (
	xstateSize  = sync.OnceValue(func() int { _, b, _, _ := cpuid(0xd, 0); return int(b) })
	xstateComps [32]struct {
		once sync.Once
		c    XstateComponent
	}
)

// XstateLayout returns the standard-format offset and size of xsave
// component i (2 = AVX, 3/4 = MPX, 5..7 = AVX-512, 9 = PKRU), from CPUID
// leaf 0xD. Size 0 means the CPU does not have it.
func XstateLayout(i int) XstateComponent {
	if i < 0 || i >= len(xstateComps) {
		a, b, _, _ := cpuid(0xd, uint32(i))
		return XstateComponent{Offset: int(b), Size: int(a)}
	}
	x := &xstateComps[i]
	x.once.Do(func() {
		a, b, _, _ := cpuid(0xd, uint32(i))
		x.c = XstateComponent{Offset: int(b), Size: int(a)}
	})
	return x.c
}

// XstateSize is the size of the user xstate buffer (CPUID 0xD.0 EBX, the
// size for the features enabled in XCR0).
func XstateSize() int { return xstateSize() }

// WarmXstate reads CPUID leaf 0xD now, the size and the components a
// thread's xstate is saved with (fpregs_amd64.go), so that a dump does
// it before it freezes the tree.
func WarmXstate() {
	xstateSize()
	for _, c := range xsaveComponents {
		XstateLayout(c.comp)
	}
}
