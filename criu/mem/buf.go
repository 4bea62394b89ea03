package mem

import "github.com/criugo/criu/internal/linux"

// AlignedBuffer returns a zeroed n-byte slice that starts on a page
// boundary, as direct I/O wants. It is ordinary Go memory: it lives as
// long as it is referenced.
func AlignedBuffer(n int) []byte {
	b := make([]byte, n+PageSize)
	off := int(linux.SliceAddr(b) % PageSize)
	if off != 0 {
		off = PageSize - off
	}
	return b[off : off+n : off+n]
}
