package mm

// savedAuxv is the auxv as CRIU saves it: the (type, value) pairs
// without the closing AT_NULL pair. CRIU 4.2 refuses more than its
// AT_VECTOR_SIZE words (44 on x86_64), which the kernel's 22 pairs and
// AT_NULL exceed by that pair; PR_SET_MM_MAP zero-fills the rest of the
// kernel's vector, which ends it.
func savedAuxv(a []uint64) []uint64 {
	n := len(a) &^ 1
	for n >= 2 && a[n-2] == 0 {
		n -= 2
	}
	return a[:n]
}
