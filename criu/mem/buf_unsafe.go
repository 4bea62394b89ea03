package mem

import "unsafe"

// AlignedBuffer returns a zeroed n-byte slice that starts on a page
// boundary, as direct I/O wants. It is ordinary Go memory: it lives as
// long as it is referenced.
func AlignedBuffer(n int) []byte {
	b := make([]byte, n+PageSize)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) % PageSize)
	if off != 0 {
		off = PageSize - off
	}
	return b[off : off+n : off+n]
}
