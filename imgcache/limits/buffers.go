package limits

import (
	"fmt"
	"sync"

	"github.com/criugo/criu/remoteimg"
)

// Share is the part of maxMem that connection buffers may use: all of
// it with a directory (image bytes are in files), else a sixteenth,
// between 4 and 32 MiB and at most half, which image bytes may not use.
// So a cache full of snapshots still accepts the restore that frees
// them, and connections never crowd out images.
func Share(dir string, maxMem int64) int64 {
	if dir != "" {
		return maxMem
	}
	return min(max(maxMem/16, 4<<20), 32<<20, maxMem/2)
}

// What a charge is for, in its refusal; a connection's own charge
// (ForConn) also counts it, for the message.
const (
	ForConn  = "the buffers of another connection"
	ForFrame = "the frame buffer of another proxy connection's transfer"
	ForRead  = "the buffer of another image read"
)

// Buffers counts the connections' buffers against their share.
type Buffers struct {
	maxMemory, share int64 // MaxMemory (for the message), Share of it

	mu    sync.Mutex // protects used and conns
	used  int64
	conns int
}

// NewBuffers returns the buffers' account of a cache with dir (or
// none) and maxMem.
func NewBuffers(dir string, maxMem int64) *Buffers {
	return &Buffers{maxMemory: maxMem, share: Share(dir, maxMem)}
}

// Share is the part of MaxMemory the buffers may use.
func (b *Buffers) Share() int64 { return b.share }

// Charge counts n bytes of buffers against the buffers' share, or says
// why not (ErrNoSpace). TCP connections may fill three quarters of it:
// the rest is kept for the owner's UNIX socket (a local restore).
func (b *Buffers) Charge(tcp bool, n int64, what string) error {
	conn := what == ForConn
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := b.share
	if tcp {
		limit = b.share / 4 * 3
	}
	if b.used+n > limit {
		return fmt.Errorf("%w: the cache's --max-memory %s cannot hold %s "+
			"(%s of the %s its connections may use is held by %d connections); retry later or raise --max-memory",
			remoteimg.ErrNoSpace, MiB(b.maxMemory), what, MiB(b.used), MiB(limit), b.conns)
	}
	b.used += n
	if conn {
		b.conns++
	}
	return nil
}

// Uncharge gives back what Charge counted.
func (b *Buffers) Uncharge(n int64, what string) {
	conn := what == ForConn
	b.mu.Lock()
	b.used -= n
	if conn {
		b.conns--
	}
	b.mu.Unlock()
}

// MiB formats a byte count for a message.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
