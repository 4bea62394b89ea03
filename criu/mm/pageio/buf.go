package pageio

import (
	"sync"

	"github.com/criugo/criu/criu/mem"
)

// ChunkSize bounds the bytes of one buffer: one process_vm_readv or
// process_vm_writev batch, one read of pages-N.img.
const ChunkSize = 32 << 20

// bufs keeps whole ChunkSize buffers from one task's copy to the next:
// a tree's restore would otherwise take two fresh 32 MiB buffers per
// task, zeroed by the Go runtime and first touched in the kernel (6 to
// 40 us a page in a VM), which was most of the restore of a 50-task
// tree whose tasks have a few private pages each.
var bufs = sync.Pool{New: func() any { return mem.AlignedBuffer(ChunkSize) }}

// GetBuf returns a page-aligned buffer of at least n bytes (n at most
// ChunkSize): a small one of its own, or a whole one from the pool.
func GetBuf(n uint64) []byte {
	if n < ChunkSize/4 {
		return mem.AlignedBuffer(int(max(n, mem.PageSize)))
	}
	return bufs.Get().([]byte)
}

// PutBuf gives back a buffer of GetBuf.
func PutBuf(b []byte) {
	if cap(b) == ChunkSize {
		bufs.Put(b[:ChunkSize])
	}
}
