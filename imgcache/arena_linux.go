package imgcache

import (
	"math/bits"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// Arenas hold the bytes of large images in memory mode. An arena is an
// anonymous mapping (small pages: huge pages made the leg slower and
// erratic here); the proxy connection reads Data payloads straight into
// it (one copy, kernel to final storage). An image's arenas grow with
// it: the first is 1 MiB, each next one as large as the image so far
// (a power of two), up to arenaSize, so an image holds at most about
// twice its size while it arrives and its exact size (whole pages) once
// committed, when the unused tail is given back. Full-size arenas are
// populated (faulted in, zeroed by the kernel) before they are handed
// out, so that page zeroing is not serialised with the socket read that
// fills them: the pool prefaults the next one on another goroutine.
const arenaSize = 32 << 20

// arenaMin is the size of an image's first arena.
const arenaMin = 1 << 20

// arenaFor is the size of the next arena of an image holding length
// bytes that needs n more.
func arenaFor(length uint64, n int) int {
	need := length + uint64(n)
	if need <= arenaMin {
		return arenaMin
	}
	if need >= arenaSize {
		return arenaSize
	}
	return 1 << bits.Len64(need-1)
}

// arenaPool hands out arenas and keeps at most one spare full-size one,
// prefaulted in the background after each hand-out. The spare counts
// against the memory budget through charge (which refuses it when the
// budget has no room, and then no spare is made).
type arenaPool struct {
	charge func(delta int64) bool // set before first use

	mu      sync.Mutex // protects spare and filling
	spare   []byte
	filling bool
}

// get returns a populated arena of size bytes (for arenaSize, the spare
// when one is ready, and then it starts prefaulting the next one). The
// caller charges the arena.
func (p *arenaPool) get(size int) ([]byte, error) {
	if size != arenaSize {
		return newArena(size)
	}
	p.mu.Lock()
	b := p.spare
	p.spare = nil
	p.mu.Unlock()
	p.refill()
	if b != nil {
		p.charge(-arenaSize) // the caller's charge takes over
		return b, nil
	}
	return newArena(arenaSize)
}

// refill starts prefaulting a spare unless one is being made.
// Callable with store.mu held.
func (p *arenaPool) refill() {
	p.mu.Lock()
	start := !p.filling
	p.filling = true
	p.mu.Unlock()
	if start {
		go p.fill()
	}
}

func (p *arenaPool) fill() {
	var b []byte
	if p.charge(arenaSize) {
		var err error
		if b, err = newArena(arenaSize); err != nil {
			p.charge(-arenaSize)
			b = nil
		}
	}
	p.mu.Lock()
	p.filling = false
	keep := b != nil && p.spare == nil
	if keep {
		p.spare = b
	}
	p.mu.Unlock()
	if b != nil && !keep {
		_ = freeArena(b)
		p.charge(-arenaSize)
	}
}

// takeSpare removes the spare arena, if any, for the caller to free and
// uncharge. Callable with store.mu held (the pool never holds its lock
// while charging).
func (p *arenaPool) takeSpare() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.spare
	p.spare = nil
	return b
}

// close frees the spare arena.
func (p *arenaPool) close() {
	p.mu.Lock()
	b := p.spare
	p.spare = nil
	p.mu.Unlock()
	if b != nil {
		_ = freeArena(b)
		p.charge(-arenaSize)
	}
}

// freeSpareLocked gives the spare arena's budget back to the images
// that need it; st.mu held. It reports whether there was one.
func (st *store) freeSpareLocked() bool {
	b := st.arenas.takeSpare()
	if b == nil {
		return false
	}
	_ = freeArena(b)
	st.memUsed -= arenaSize
	return true
}

// chargeSpare is the pool's charge: the spare arena against MaxMemory.
func (st *store) chargeSpare(delta int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if delta > 0 && st.memUsed+delta > st.maxMem {
		return false
	}
	st.memUsed += delta
	if delta < 0 {
		notify(&st.memChanged)
	}
	return true
}

// newArena maps and populates one arena. Populating is
// best effort (older kernels, THP off): the arena is still usable, and is
// then faulted in as it is written.
func newArena(size int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	// No MADV_HUGEPAGE: with huge pages the proxy->cache leg was slower and
	// far more erratic in this VM (measured: leg 0.9-2.5 s with them, 0.5-0.6 s
	// without, 1 GiB).
	_ = madvise(b, unix.MADV_POPULATE_WRITE)
	return b, nil
}

// freeArena unmaps an arena returned by newArena (the whole slice).
func freeArena(b []byte) error {
	if err := unix.Munmap(b); err != nil {
		return os.NewSyscallError("munmap", err)
	}
	return nil
}

// discard returns the pages of b (a page-aligned part of an arena) to the
// kernel; the mapping stays until freeArena.
func discard(b []byte) error { return madvise(b, unix.MADV_DONTNEED) }

func madvise(b []byte, advice int) error { return linux.Madvise(b, advice) }
