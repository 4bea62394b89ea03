package ptrace

// cpuid executes CPUID with the given leaf and subleaf.
func cpuid(eax, ecx uint32) (a, b, c, d uint32)

// XstateComponent is where one xsave component lives in the standard
// (non-compacted) layout that NT_X86_XSTATE uses.
type XstateComponent struct {
	Offset, Size int
}

// XstateLayout returns the standard-format offset and size of xsave
// component i (2 = AVX, 3/4 = MPX, 5..7 = AVX-512, 9 = PKRU), from CPUID
// leaf 0xD. Size 0 means the CPU does not have it.
func XstateLayout(i int) XstateComponent {
	a, b, _, _ := cpuid(0xd, uint32(i))
	return XstateComponent{Offset: int(b), Size: int(a)}
}

// XstateSize is the size of the user xstate buffer (CPUID 0xD.0 EBX, the
// size for the features enabled in XCR0).
func XstateSize() int {
	_, b, _, _ := cpuid(0xd, 0)
	return int(b)
}
