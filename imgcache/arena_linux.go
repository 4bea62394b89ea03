package imgcache

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Arenas hold the bytes of large images in memory mode. An arena is an
// anonymous mapping of arenaSize bytes (small pages: huge pages made the
// leg slower and erratic here) populated (faulted in, zeroed by the kernel) before it is
// handed out, so that page zeroing is not serialised with the socket read
// that fills it: the proxy connection reads Data payloads straight into
// an arena (one copy, kernel to final storage), and the pool prefaults the
// next arena on another goroutine meanwhile.
const arenaSize = 32 << 20

// arenaPool hands out arenas and keeps at most one spare, prefaulted in
// the background after each hand-out. The spare (arenaSize of RSS while a
// large transfer runs) is not charged to MaxMemory.
type arenaPool struct {
	mu      sync.Mutex // protects spare and filling
	spare   []byte
	filling bool
}

// get returns a populated arena (a fresh one when no spare is ready) and
// starts prefaulting the next one.
func (p *arenaPool) get() ([]byte, error) {
	p.mu.Lock()
	b := p.spare
	p.spare = nil
	start := !p.filling
	p.filling = true
	p.mu.Unlock()
	if start {
		go p.fill()
	}
	if b != nil {
		return b, nil
	}
	return newArena()
}

func (p *arenaPool) fill() {
	b, err := newArena()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.filling = false
	if err != nil {
		return
	}
	if p.spare != nil {
		_ = freeArena(b)
		return
	}
	p.spare = b
}

// close frees the spare arena.
func (p *arenaPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spare != nil {
		_ = freeArena(p.spare)
		p.spare = nil
	}
}

// newArena maps and populates one arena. Populating is
// best effort (older kernels, THP off): the arena is still usable, and is
// then faulted in as it is written.
func newArena() ([]byte, error) {
	b, err := unix.Mmap(-1, 0, arenaSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
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

func madvise(b []byte, advice int) error {
	err := unix.Madvise(b, advice)
	if err == unix.EINTR {
		err = unix.Madvise(b, advice)
	}
	if err != nil {
		return os.NewSyscallError("madvise", err)
	}
	return nil
}
