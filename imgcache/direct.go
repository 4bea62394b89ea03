package imgcache

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// arenaMinFrame: Data payloads at least this large go to arenas; smaller
// ones get an allocation of their own (many small images would otherwise
// each hold most of an arena). Arenas are used only under a MaxMemory of
// at least eight of them, and only while a whole one fits the budget.
const arenaMinFrame = 64 << 10

// errNoArena: the budget has no room for the next arena (the payload
// then gets an allocation of its own if it fits).
var errNoArena = errors.New("no room for an arena")

// writeFrom stores the n bytes of a Data payload at image offset off,
// reading them with fill straight into their final place in memory (memory
// mode): an arena for large frames, else an allocation of their own. It
// returns the stored length (as write), or ioErr when fill failed (the
// connection is broken; nothing was stored), or err when the store refused
// the bytes (then the payload has been consumed). A resend (off below the
// stored length) or a gap goes through write.
func (st *store) writeFrom(ctx context.Context, img *image, off uint64, n int, fill func([]byte) error) (stored uint64, ioErr, err error) {
	img.wmu.Lock()
	defer img.wmu.Unlock()
	st.mu.Lock()
	if n == 0 || img.state != arriving || off != img.length {
		st.mu.Unlock()
		b := make([]byte, n)
		if err := fill(b); err != nil {
			return 0, err, nil
		}
		stored, err := st.writeLocked(ctx, img, off, b)
		return stored, nil, err
	}
	// Reserve room: the arena's free tail, a new arena, or an
	// allocation; or, when the budget cannot hold the bytes, drop the
	// snapshot (no wait: see writeLocked).
	var dst []byte
	own := false
	for dst == nil {
		if img.state != arriving {
			err := img.err
			st.mu.Unlock()
			if err == nil {
				err = fmt.Errorf("image %s: %w", img.name, remoteimg.ErrAborted)
			}
			// Consume the payload so the connection stays in step.
			if ferr := fill(make([]byte, n)); ferr != nil {
				return 0, ferr, nil
			}
			return 0, nil, err
		}
		if len(img.seg)-img.segUsed >= n {
			dst = img.seg[img.segUsed : img.segUsed+n : img.segUsed+n]
			img.segUsed += n
			continue
		}
		if size := arenaFor(img.length, n); n >= arenaMinFrame && st.maxMem >= 8*arenaSize {
			var a []byte
			var aerr error
			if size == arenaSize {
				a = st.arenas.takeSpare()
			}
			switch {
			case a != nil:
				// The spare's charge becomes the image's, below.
				st.memUsed -= arenaSize
				st.arenas.refill()
			case st.memUsed+int64(size) <= st.maxMem:
				if size >= arenaSize/2 {
					// Have a full-size spare ready for the next one.
					st.arenas.refill()
				}
				st.mu.Unlock()
				a, aerr = st.arenas.get(size)
				st.mu.Lock()
			default:
				aerr = errNoArena
			}
			if aerr == nil && img.state != arriving {
				_ = freeArena(a)
				continue
			}
			if aerr == nil {
				st.trimLocked(img)
				st.memUsed += int64(size)
				img.charge += int64(size)
				img.arenas = append(img.arenas, a)
				img.seg, img.segUsed = a, 0
				continue
			}
			if aerr != errNoArena {
				st.log.Warn().Err(aerr).Msg("arena")
			}
		}
		if !st.room(int64(n)) && st.freeSpareLocked() {
			continue
		}
		if !st.room(int64(n)) {
			err := st.overflowLocked(img.snap, n)
			st.mu.Unlock()
			if ferr := fill(make([]byte, n)); ferr != nil {
				return 0, ferr, nil
			}
			return 0, nil, err
		}
		st.memUsed += int64(n)
		img.charge += int64(n)
		own = true
		break
	}
	img.snap.touched = time.Now()
	img.refs++ // pins the arenas while dst is filled without st.mu
	st.mu.Unlock()
	if own {
		dst = make([]byte, n)
	}
	ioErr = fill(dst)
	var crc uint32
	if ioErr == nil {
		// Only the holder of img.wmu changes img.crc.
		crc = crc32.Update(img.crc, remoteimg.Castagnoli(), dst)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	img.refs--
	defer st.maybeClose(img)
	if ioErr != nil {
		if own && !img.dropped {
			st.memUsed -= int64(n)
			img.charge -= int64(n)
			notify(&st.memChanged)
		} else if !own && img.segUsed >= n && &img.seg[img.segUsed-n] == &dst[0] {
			img.segUsed -= n
		}
		return 0, ioErr, nil
	}
	if img.state != arriving {
		err := img.err
		if err == nil {
			err = fmt.Errorf("image %s: %w", img.name, remoteimg.ErrAborted)
		}
		return 0, nil, err
	}
	img.chunks = append(img.chunks, dst)
	img.length += uint64(n)
	img.crc = crc
	notify(&img.changed)
	return img.length, nil, nil
}

// room reports whether n more bytes fit in memory; st.mu held. An empty
// store takes anything (one chunk larger than the budget must not wedge).
func (st *store) room(n int64) bool { return st.memUsed == 0 || st.memUsed+n <= st.maxMem }

// trimLocked gives back the unused tail of img's current arena (whole
// pages) and uncharges it; st.mu held.
func (st *store) trimLocked(img *image) {
	if img.seg == nil {
		return
	}
	page := os.Getpagesize()
	used := (img.segUsed + page - 1) / page * page
	if used < len(img.seg) {
		if err := discard(img.seg[used:]); err != nil {
			st.log.Warn().Err(err).Msg("trim image memory")
		}
		free := int64(len(img.seg) - used)
		st.memUsed -= free
		img.charge -= free
		notify(&st.memChanged)
	}
	img.seg, img.segUsed = nil, 0
}
