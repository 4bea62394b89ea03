package imgcache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/criugo/criu/remoteimg"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

type imgState int

const (
	arriving imgState = iota
	complete
	failed
)

// image is one transfer of one image. Fields below mu are guarded by
// store.mu; data written to file is written only by the transfer's proxy
// connection goroutine, before length covers it.
type image struct {
	name string
	xfer uint64
	snap *snapshot

	chunks  [][]byte // memory mode: the bytes, in order
	charge  int64    // memory mode: bytes of store.memUsed this image holds
	arenas  [][]byte // memory mode: the arenas chunks may lie in (freed with the image)
	seg     []byte   // memory mode: the arena being filled; seg[segUsed:] is free
	segUsed int
	file    *os.File // disk mode
	path    string   // disk mode: current path
	flushed int64    // disk mode: writeback started below this offset (under wmu)
	length  uint64
	crc     uint32
	state   imgState
	err     error
	changed chan struct{} // closed (and replaced) on every change
	refs    int           // readers holding the image
	dropped bool          // no longer reachable from its snapshot

	// wmu serializes write and commit of this image (taken before
	// store.mu): after a reconnect, the old connection's goroutine may
	// still be storing frames it had buffered while the new one resumes,
	// and a write drops store.mu around the file I/O.
	wmu sync.Mutex
}

type snapshot struct {
	id, parent string
	images     map[string]*image // current version of each name
	xfers      map[uint64]*image // every transfer, for dedup
	finished   bool              // Finish checked the manifest: held, not yet served
	confirmed  bool              // its dump confirmed it (two-phase finish): served
	holdTimer  *time.Timer
	released   bool // Release asked for it while other snapshots build on it
	manifest   []remoteimg.ImageInfo
	abandoned  error
	writers    int // proxy connections that touched it and are alive
	timer      *time.Timer
	changed    chan struct{}
	dir        string
	journal    *os.File
}

// store holds every snapshot. Lock order: store.mu only (no nested locks).
type store struct {
	dir       string
	maxMem    int64
	keep      bool
	resumeTTL time.Duration
	log       zerolog.Logger

	mu         sync.Mutex
	snaps      map[string]*snapshot
	memUsed    int64
	memChanged chan struct{}
	changed    chan struct{} // snapshot set changed
	arenas     arenaPool
}

func notify(ch *chan struct{}) {
	close(*ch)
	*ch = make(chan struct{})
}

func newStore(dir string, maxMem int64, keep bool, resumeTTL time.Duration, log zerolog.Logger) (*store, error) {
	st := &store{dir: dir, maxMem: maxMem, keep: keep, resumeTTL: resumeTTL, log: log,
		snaps: map[string]*snapshot{}, memChanged: make(chan struct{}), changed: make(chan struct{})}
	if dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, "snapshots"), 0o700); err != nil {
			return nil, fmt.Errorf("cache dir: %w", err)
		}
		if err := st.load(); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// newSnapshot creates snapshot id; st.mu held.
func (st *store) newSnapshot(id, parent string) (*snapshot, error) {
	s := &snapshot{id: id, parent: parent, images: map[string]*image{}, xfers: map[uint64]*image{},
		changed: make(chan struct{})}
	if st.dir != "" {
		s.dir = filepath.Join(st.dir, "snapshots", id)
		if err := os.RemoveAll(s.dir); err != nil {
			return nil, err
		}
		if err := os.Mkdir(s.dir, 0o700); err != nil {
			return nil, fmt.Errorf("create snapshot dir: %w", err)
		}
		j, err := os.OpenFile(filepath.Join(s.dir, ".journal"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create snapshot journal: %w", err)
		}
		s.journal = j
		if _, err := fmt.Fprintf(j, "parent %q\n", parent); err != nil {
			return nil, fmt.Errorf("write snapshot journal: %w", err)
		}
	}
	st.snaps[id] = s
	notify(&st.changed)
	st.log.Info().Str("snapshot", id).Str("parent", parent).Msg("new snapshot")
	return s, nil
}

// put starts or resumes transfer xfer.
func (st *store) put(xfer uint64, m *remoteimg.Put) (*image, *snapshot, error) {
	for _, n := range []string{m.Snapshot, m.Name} {
		if err := remoteimg.CheckName(n); err != nil {
			return nil, nil, err
		}
	}
	if m.Parent != "" {
		if err := remoteimg.CheckName(m.Parent); err != nil {
			return nil, nil, err
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.snaps[m.Snapshot]
	if s != nil {
		if img := s.xfers[xfer]; img != nil {
			return img, s, nil // resume (or re-commit) of a transfer we know
		}
		if s.finished {
			// A new dump under a finished snapshot's id replaces it.
			st.log.Info().Str("snapshot", s.id).Msg("snapshot re-dumped: dropping the finished one")
			st.dropSnapshot(s)
			s = nil
		}
	}
	if s == nil {
		var err error
		if s, err = st.newSnapshot(m.Snapshot, m.Parent); err != nil {
			return nil, nil, err
		}
	}
	s.abandoned = nil
	img := &image{name: m.Name, xfer: xfer, snap: s, changed: make(chan struct{})}
	if s.dir != "" {
		img.path = filepath.Join(s.dir, fmt.Sprintf(".part.%016x.%s", xfer, m.Name))
		f, err := os.OpenFile(img.path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("create image file: %w", err)
		}
		img.file = f
	}
	if old := s.images[m.Name]; old != nil {
		if old.state == arriving {
			st.failImage(old, fmt.Errorf("image %s: %w: replaced by a new transfer", old.name, remoteimg.ErrAborted))
		}
		st.dropImage(old)
	}
	s.images[m.Name] = img
	s.xfers[xfer] = img
	notify(&s.changed)
	return img, s, nil
}

// write stores data at off. It returns the image's stored length (what
// the proxy may forget). Overlap with stored bytes is skipped (resend).
func (st *store) write(ctx context.Context, img *image, off uint64, data []byte) (uint64, error) {
	img.wmu.Lock()
	defer img.wmu.Unlock()
	return st.writeLocked(ctx, img, off, data)
}

// writeLocked is write with img.wmu held; in memory mode the store keeps
// data (the caller must not reuse it).
func (st *store) writeLocked(ctx context.Context, img *image, off uint64, data []byte) (uint64, error) {
	st.mu.Lock()
	switch img.state {
	case complete:
		n := img.length
		st.mu.Unlock()
		return n, nil
	case failed:
		err := img.err
		st.mu.Unlock()
		return 0, err
	}
	if off > img.length {
		n := img.length
		st.mu.Unlock()
		return 0, fmt.Errorf("image %s: %w: data at %d but only %d bytes held", img.name, remoteimg.ErrAborted, off, n)
	}
	skip := img.length - off
	if skip >= uint64(len(data)) {
		n := img.length
		st.mu.Unlock()
		return n, nil
	}
	data = data[skip:]
	at := img.length
	if img.file == nil {
		// Memory mode: wait for room.
		for st.memUsed > 0 && st.memUsed+int64(len(data)) > st.maxMem {
			ch := st.memChanged
			st.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return 0, fmt.Errorf("image %s: %w", img.name, remoteimg.ErrShutdown)
			}
			st.mu.Lock()
			if img.state != arriving {
				err := img.err
				st.mu.Unlock()
				if err == nil {
					err = fmt.Errorf("image %s: %w", img.name, remoteimg.ErrAborted)
				}
				return 0, err
			}
		}
		st.memUsed += int64(len(data))
		img.charge += int64(len(data))
		img.chunks = append(img.chunks, data)
	} else {
		f := img.file
		st.mu.Unlock()
		if _, err := f.WriteAt(data, int64(at)); err != nil {
			st.mu.Lock()
			err = fmt.Errorf("image %s: write: %w", img.name, err)
			st.failImage(img, err)
			st.mu.Unlock()
			return 0, err
		}
		writeBehind(img, f, int64(at)+int64(len(data)))
		st.mu.Lock()
		if img.state != arriving {
			err := img.err
			st.mu.Unlock()
			return 0, err
		}
	}
	img.length += uint64(len(data))
	img.crc = crc32.Update(img.crc, remoteimg.Castagnoli, data)
	notify(&img.changed)
	n := img.length
	st.mu.Unlock()
	return n, nil
}

// writeBehindSpan is how much written data the cache lets accumulate
// before it starts its writeback.
const writeBehindSpan = 8 << 20

// writeBehind starts writeback (without waiting for it) of the whole
// spans of img's file below end: the fsync at commit then waits only for
// the tail, which is the time from the snapshot's last byte to its ack,
// and dirty pages do not pile up. img.wmu held. Best effort: the fsync at
// commit is what makes the image durable.
func writeBehind(img *image, f *os.File, end int64) {
	if end-img.flushed < writeBehindSpan {
		return
	}
	n := (end - img.flushed) / writeBehindSpan * writeBehindSpan
	if c, err := f.SyscallConn(); err == nil {
		_ = c.Control(func(fd uintptr) {
			_ = unix.SyncFileRange(int(fd), img.flushed, n, unix.SYNC_FILE_RANGE_WRITE)
		})
	}
	img.flushed += n
}

// commit checks size and checksum and makes the image complete (durable
// on disk in disk mode).
func (st *store) commit(img *image, size uint64, crc uint32) error {
	img.wmu.Lock()
	defer img.wmu.Unlock()
	st.mu.Lock()
	switch img.state {
	case complete:
		st.mu.Unlock()
		if img.length != size || img.crc != crc {
			return fmt.Errorf("image %s: %w: committed twice with different content", img.name, remoteimg.ErrCorrupt)
		}
		return nil
	case failed:
		err := img.err
		st.mu.Unlock()
		return err
	}
	if img.length != size {
		err := fmt.Errorf("image %s: %w: %d bytes received, %d committed", img.name, remoteimg.ErrTruncated, img.length, size)
		st.failImage(img, err)
		st.mu.Unlock()
		return err
	}
	if img.crc != crc {
		err := fmt.Errorf("image %s: %w: crc %08x received, %08x committed", img.name, remoteimg.ErrCorrupt, img.crc, crc)
		st.failImage(img, err)
		st.mu.Unlock()
		return err
	}
	s := img.snap
	f, part := img.file, img.path
	st.mu.Unlock()
	var final string
	if f != nil {
		final = filepath.Join(s.dir, img.name)
		err := f.Sync()
		if err == nil {
			err = os.Rename(part, final)
		}
		if err == nil {
			err = st.journal(s, fmt.Sprintf("commit %016x %d %d %q\n", img.xfer, size, crc, img.name), true)
		}
		if err != nil {
			err = fmt.Errorf("image %s: store: %w", img.name, err)
			st.mu.Lock()
			st.failImage(img, err)
			st.mu.Unlock()
			return err
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if img.state != arriving {
		if img.err != nil {
			return img.err
		}
		return nil
	}
	if final != "" {
		img.path = final
	}
	st.trimLocked(img)
	img.state = complete
	notify(&img.changed)
	st.log.Debug().Str("snapshot", s.id).Str("img", img.name).Uint64("size", size).Msg("image complete")
	return nil
}

// journal appends a line to s's journal (disk mode), optionally synced.
func (st *store) journal(s *snapshot, line string, sync bool) error {
	st.mu.Lock()
	j := s.journal
	st.mu.Unlock()
	if j == nil {
		return nil
	}
	if _, err := j.WriteString(line); err != nil {
		return err
	}
	if sync {
		return j.Sync()
	}
	return nil
}

// abort discards a transfer.
func (st *store) abort(img *image) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if img.state == arriving {
		st.failImage(img, fmt.Errorf("image %s: %w by the writer", img.name, remoteimg.ErrAborted))
	}
}

// failImage marks img failed and unlinks it from its snapshot; st.mu held.
func (st *store) failImage(img *image, err error) {
	if img.state != arriving {
		return
	}
	img.state = failed
	img.err = err
	notify(&img.changed)
	st.log.Warn().Str("snapshot", img.snap.id).Str("img", img.name).Err(err).Msg("image failed")
	if img.snap.images[img.name] == img {
		delete(img.snap.images, img.name)
		notify(&img.snap.changed)
	}
	st.dropImage(img)
}

// dropImage frees img once no reader holds it; st.mu held.
func (st *store) dropImage(img *image) {
	if img.dropped {
		return
	}
	img.dropped = true
	if img.charge != 0 {
		st.memUsed -= img.charge
		img.charge = 0
		notify(&st.memChanged)
	}
	if img.state == failed && img.path != "" {
		_ = os.Remove(img.path)
	}
	st.maybeClose(img)
}

func (st *store) maybeClose(img *image) {
	if img.dropped && img.refs == 0 {
		img.chunks = nil
		for _, a := range img.arenas {
			if err := freeArena(a); err != nil {
				st.log.Warn().Err(err).Msg("free image memory")
			}
		}
		img.arenas, img.seg, img.segUsed = nil, nil, 0
		if img.file != nil {
			img.file.Close()
			img.file = nil
		}
	}
}

// dropSnapshot forgets s and deletes its files; st.mu held.
func (st *store) dropSnapshot(s *snapshot) {
	for _, img := range s.xfers {
		if img.state == arriving {
			st.failImage(img, fmt.Errorf("image %s: %w: snapshot released", img.name, remoteimg.ErrAborted))
		}
		st.dropImage(img)
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.holdTimer != nil {
		s.holdTimer.Stop()
	}
	for _, img := range s.xfers {
		notify(&img.changed) // readers waiting for the confirmation
	}
	if s.journal != nil {
		s.journal.Close()
		s.journal = nil
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
	if st.snaps[s.id] == s {
		delete(st.snaps, s.id)
	}
	s.abandoned = fmt.Errorf("snapshot %s: %w", s.id, remoteimg.ErrNotExist)
	notify(&s.changed)
	notify(&st.changed)
}

// finish checks the manifest against the snapshot and marks it finished.
func (st *store) finish(m *remoteimg.Finish) error {
	if err := remoteimg.CheckName(m.Snapshot); err != nil {
		return err
	}
	for _, im := range m.Images {
		if err := remoteimg.CheckName(im.Name); err != nil {
			return err
		}
	}
	st.mu.Lock()
	s := st.snaps[m.Snapshot]
	if s == nil {
		var err error
		if s, err = st.newSnapshot(m.Snapshot, m.Parent); err != nil {
			st.mu.Unlock()
			return err
		}
	}
	// A refused Finish fails the dump: its snapshot can never be
	// confirmed, so it goes now instead of staying "arriving".
	refuse := func(err error) error {
		st.log.Warn().Str("snapshot", s.id).Err(err).Msg("finish refused: dropping the snapshot")
		st.dropSnapshot(s)
		s.abandoned = fmt.Errorf("snapshot %s: %w: its finish was refused (%v)", s.id, remoteimg.ErrAborted, err)
		st.mu.Unlock()
		return err
	}
	want := append([]remoteimg.ImageInfo(nil), m.Images...)
	sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
	if s.finished {
		same := len(want) == len(s.manifest)
		for i := 0; same && i < len(want); i++ {
			same = want[i] == s.manifest[i]
		}
		st.mu.Unlock()
		if !same {
			return fmt.Errorf("snapshot %s: %w: finished again with another manifest", s.id, remoteimg.ErrIncomplete)
		}
		return nil
	}
	inManifest := map[string]bool{}
	for _, w := range want {
		inManifest[w.Name] = true
		img := s.images[w.Name]
		if img == nil || img.state != complete {
			return refuse(fmt.Errorf("snapshot %s: %w: image %s not held whole", s.id, remoteimg.ErrIncomplete, w.Name))
		}
		if img.length != w.Size || img.crc != w.CRC {
			return refuse(fmt.Errorf("snapshot %s: %w: image %s is %d bytes crc %08x, manifest says %d crc %08x",
				s.id, remoteimg.ErrIncomplete, w.Name, img.length, img.crc, w.Size, w.CRC))
		}
	}
	for name, img := range s.images {
		if !inManifest[name] {
			st.failImage(img, fmt.Errorf("image %s: %w: not in the manifest", name, remoteimg.ErrAborted))
			delete(s.images, name)
			if img.path != "" {
				_ = os.Remove(img.path)
			}
			st.dropImage(img)
		}
	}
	// Finish has the last word on the parent (a Put may have come before
	// the writer named it).
	newParent := m.Parent != s.parent
	s.parent = m.Parent
	st.mu.Unlock()
	if newParent {
		if err := st.journal(s, fmt.Sprintf("parent %q\n", m.Parent), false); err != nil {
			return fmt.Errorf("snapshot %s: journal: %w", s.id, err)
		}
	}
	if err := st.journal(s, "held\n", true); err != nil {
		return fmt.Errorf("snapshot %s: journal: %w", s.id, err)
	}
	if s.dir != "" {
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("snapshot %s: %w", s.id, err)
		}
	}
	st.mu.Lock()
	s.finished = true
	s.manifest = want
	if s.timer != nil {
		s.timer.Stop()
	}
	st.armHold(s)
	notify(&s.changed)
	st.mu.Unlock()
	var total uint64
	for _, w := range want {
		total += w.Size
	}
	st.log.Info().Str("snapshot", s.id).Int("images", len(want)).Uint64("bytes", total).Msg("snapshot held, waiting for its dump to confirm it")
	return nil
}

// armHold starts the timer that drops s if its dump does not confirm it
// within resumeTTL (two-phase finish: a dump that failed after its
// Finish was acknowledged never sends Confirm); st.mu held.
func (st *store) armHold(s *snapshot) {
	if s.confirmed {
		return
	}
	if s.holdTimer != nil {
		s.holdTimer.Stop()
	}
	s.holdTimer = time.AfterFunc(st.resumeTTL, func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		if s.confirmed || st.snaps[s.id] != s {
			return
		}
		st.log.Warn().Str("snapshot", s.id).Dur("waited", st.resumeTTL).
			Msg("snapshot held but never confirmed by its dump (the dump failed and resumed its tasks): dropping it")
		st.dropSnapshot(s)
		s.abandoned = fmt.Errorf("snapshot %s: %w: its dump never confirmed it (the dump failed; its tasks were resumed)",
			s.id, remoteimg.ErrAborted)
	})
}

// confirm is the second phase of the finish: the dump that got Finish's
// ok confirms the snapshot, which is served from now on. Idempotent.
func (st *store) confirm(m *remoteimg.Confirm) error {
	if err := remoteimg.CheckName(m.Snapshot); err != nil {
		return err
	}
	st.mu.Lock()
	s := st.snaps[m.Snapshot]
	switch {
	case s == nil:
		st.mu.Unlock()
		return fmt.Errorf("snapshot %s: %w: not held (never finished, or dropped unconfirmed)", m.Snapshot, remoteimg.ErrNotExist)
	case !s.finished:
		st.mu.Unlock()
		return fmt.Errorf("snapshot %s: %w: confirmed before its finish", m.Snapshot, remoteimg.ErrIncomplete)
	case s.confirmed:
		st.mu.Unlock()
		return nil
	}
	st.mu.Unlock()
	if err := st.journal(s, "finish\n", true); err != nil {
		return fmt.Errorf("snapshot %s: journal: %w", s.id, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.snaps[s.id] != s {
		return fmt.Errorf("snapshot %s: %w: dropped before its confirmation", s.id, remoteimg.ErrNotExist)
	}
	s.confirmed = true
	if s.holdTimer != nil {
		s.holdTimer.Stop()
		s.holdTimer = nil
	}
	for _, img := range s.images {
		notify(&img.changed)
	}
	notify(&s.changed)
	st.log.Info().Str("snapshot", s.id).Msg("snapshot confirmed by its dump, served")
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// attach/detach count the live proxy connections of a snapshot; when the
// last one goes, unfinished transfers get resumeTTL to be resumed.
func (st *store) attach(s *snapshot) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s.writers++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

func (st *store) detach(s *snapshot) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s.writers--
	if s.writers == 0 && !s.finished && st.snaps[s.id] == s {
		st.armAbandon(s)
	}
}

// armAbandon starts s's resume timer; st.mu held.
func (st *store) armAbandon(s *snapshot) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(st.resumeTTL, func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		if s.writers > 0 || s.finished || st.snaps[s.id] != s {
			return
		}
		err := fmt.Errorf("snapshot %s: %w: no proxy resumed it within %v", s.id, remoteimg.ErrAborted, st.resumeTTL)
		st.log.Warn().Str("snapshot", s.id).Msg("snapshot abandoned by its proxy")
		for _, img := range s.xfers {
			st.failImage(img, err)
		}
		s.abandoned = err
		notify(&s.changed)
	})
}

// get finds image name of snapshot id, waiting up to wait for an unknown
// snapshot and, in an unfinished snapshot, for the image to appear. The
// caller must call st.unref(img) when done.
func (st *store) get(ctx context.Context, id, name string, wait time.Duration) (*image, error) {
	if err := remoteimg.CheckName(id); err != nil {
		return nil, err
	}
	if err := remoteimg.CheckName(name); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	st.mu.Lock()
	defer st.mu.Unlock()
	for {
		var ch chan struct{}
		var timeout <-chan time.Time
		s := st.snaps[id]
		switch {
		case s == nil:
			left := time.Until(deadline)
			if left <= 0 {
				return nil, fmt.Errorf("snapshot %s: %w", id, remoteimg.ErrNotExist)
			}
			ch = st.changed
			t := time.NewTimer(left)
			defer t.Stop()
			timeout = t.C
		case s.images[name] != nil:
			img := s.images[name]
			img.refs++
			return img, nil
		case s.finished:
			return nil, fmt.Errorf("image %s of snapshot %s: %w", name, id, remoteimg.ErrNotExist)
		case s.abandoned != nil:
			return nil, s.abandoned
		default:
			ch = s.changed
		}
		st.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
		case <-ctx.Done():
			st.mu.Lock()
			return nil, fmt.Errorf("image %s: %w", name, remoteimg.ErrShutdown)
		}
		st.mu.Lock()
	}
}

func (st *store) unref(img *image) {
	st.mu.Lock()
	defer st.mu.Unlock()
	img.refs--
	st.maybeClose(img)
}

// cursor is a reader's position in an image.
type cursor struct {
	off   uint64
	chunk int // memory mode: index of the chunk holding off
	inOff int // offset in that chunk
	buf   []byte
}

// read returns the next bytes at cur (waiting while the image is still
// arriving), or end=true with the final size and crc, or the image's
// error.
func (st *store) read(ctx context.Context, img *image, cur *cursor) (b []byte, end bool, size uint64, crc uint32, err error) {
	st.mu.Lock()
	for {
		if img.state == failed {
			err = img.err
			st.mu.Unlock()
			return nil, false, 0, 0, err
		}
		if cur.off < img.length {
			break
		}
		if img.state == complete && img.snap.confirmed {
			size, crc = img.length, img.crc
			st.mu.Unlock()
			return nil, true, size, crc, nil
		}
		// Two-phase finish: no image is whole to a reader before its
		// dump has confirmed the snapshot.
		if img.state == complete && img.dropped {
			err = img.snap.abandoned
			if err == nil {
				err = fmt.Errorf("image %s: %w", img.name, remoteimg.ErrAborted)
			}
			st.mu.Unlock()
			return nil, false, 0, 0, err
		}
		ch := img.changed
		st.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false, 0, 0, fmt.Errorf("image %s: %w", img.name, remoteimg.ErrShutdown)
		}
		st.mu.Lock()
	}
	if img.file == nil {
		c := img.chunks[cur.chunk]
		b = c[cur.inOff:]
		cur.chunk++
		cur.inOff = 0
		cur.off += uint64(len(b))
		st.mu.Unlock()
		return b, false, 0, 0, nil
	}
	n := min(img.length-cur.off, remoteimg.MaxChunk)
	f := img.file
	st.mu.Unlock()
	if cur.buf == nil {
		cur.buf = make([]byte, remoteimg.MaxChunk)
	}
	// f stays open: the reader holds a ref.
	k, rerr := f.ReadAt(cur.buf[:n], int64(cur.off))
	if uint64(k) != n {
		if rerr == nil || rerr == io.EOF {
			rerr = io.ErrUnexpectedEOF
		}
		return nil, false, 0, 0, fmt.Errorf("image %s: read: %w", img.name, rerr)
	}
	cur.off += n
	return cur.buf[:n], false, 0, 0, nil
}

// release frees a snapshot unless the cache keeps snapshots, and with
// it the ancestors (pre-dumps) that no other snapshot builds on. A
// snapshot that others build on stays until the last of them is freed.
func (st *store) release(id string) error {
	if err := remoteimg.CheckName(id); err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.snaps[id]
	if s == nil {
		return fmt.Errorf("snapshot %s: %w", id, remoteimg.ErrNotExist)
	}
	if st.keep {
		st.log.Info().Str("snapshot", id).Msg("snapshot released, kept (--keep)")
		return nil
	}
	s.released = true
	for s != nil && s.released {
		if st.children(s.id) > 0 {
			st.log.Info().Str("snapshot", s.id).Msg("snapshot released, kept while other snapshots build on it")
			break
		}
		st.dropSnapshot(s)
		st.log.Info().Str("snapshot", s.id).Msg("snapshot released and freed")
		// Its parent served only as a base for the chain just restored
		// unless another snapshot still builds on it.
		p := st.snaps[s.parent]
		if s.parent == "" || p == nil {
			break
		}
		p.released = true
		s = p
	}
	return nil
}

// children counts the snapshots that name id as their parent; st.mu held.
func (st *store) children(id string) int {
	n := 0
	for _, s := range st.snaps {
		if s.parent == id {
			n++
		}
	}
	return n
}

func (st *store) list() []remoteimg.SnapshotInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]remoteimg.SnapshotInfo, 0, len(st.snaps))
	for _, s := range st.snaps {
		si := remoteimg.SnapshotInfo{ID: s.id, Parent: s.parent, Finished: s.confirmed, Held: s.finished && !s.confirmed,
			Images: uint32(len(s.images))}
		for _, img := range s.images {
			si.Bytes += img.length
		}
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// close releases every file (at shutdown).
func (st *store) close() {
	st.arenas.close()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, s := range st.snaps {
		if s.timer != nil {
			s.timer.Stop()
		}
		if s.holdTimer != nil {
			s.holdTimer.Stop()
		}
		if s.journal != nil {
			s.journal.Close()
			s.journal = nil
		}
		for _, img := range s.xfers {
			if img.file != nil && img.refs == 0 {
				img.file.Close()
				img.file = nil
			}
		}
	}
}

// load replays the snapshots kept under st.dir.
func (st *store) load() error {
	root := filepath.Join(st.dir, "snapshots")
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() || remoteimg.CheckName(e.Name()) != nil {
			continue
		}
		if err := st.loadSnapshot(filepath.Join(root, e.Name()), e.Name()); err != nil {
			st.log.Warn().Str("snapshot", e.Name()).Err(err).Msg("dropping unreadable kept snapshot")
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
	return nil
}

func (st *store) loadSnapshot(dir, id string) error {
	jf, err := os.OpenFile(filepath.Join(dir, ".journal"), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	s := &snapshot{id: id, images: map[string]*image{}, xfers: map[uint64]*image{}, changed: make(chan struct{}),
		dir: dir, journal: jf}
	sc := bufio.NewScanner(jf)
	for sc.Scan() {
		line := sc.Text()
		verb, rest, _ := strings.Cut(line, " ")
		switch verb {
		case "parent":
			p, err := strconv.Unquote(rest)
			if err != nil {
				return fmt.Errorf("journal: %q: %w", line, err)
			}
			s.parent = p
		case "commit":
			f := strings.SplitN(rest, " ", 4)
			if len(f) != 4 {
				return fmt.Errorf("journal: bad line %q", line)
			}
			xfer, e1 := strconv.ParseUint(f[0], 16, 64)
			size, e2 := strconv.ParseUint(f[1], 10, 64)
			crc, e3 := strconv.ParseUint(f[2], 10, 32)
			name, e4 := strconv.Unquote(f[3])
			if err := errors.Join(e1, e2, e3, e4, remoteimg.CheckName(name)); err != nil {
				return fmt.Errorf("journal: %q: %w", line, err)
			}
			path := filepath.Join(dir, name)
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			if fi, err := file.Stat(); err != nil || uint64(fi.Size()) != size {
				file.Close()
				return fmt.Errorf("image %s: size on disk differs from journal", name)
			}
			if old := s.images[name]; old != nil && old.file != nil {
				old.file.Close()
			}
			img := &image{name: name, xfer: xfer, snap: s, file: file, path: path, length: size,
				crc: uint32(crc), state: complete, changed: make(chan struct{})}
			s.images[name] = img
			s.xfers[xfer] = img
		case "held":
			s.finished = true
		case "finish":
			s.finished, s.confirmed = true, true
		default:
			return fmt.Errorf("journal: bad line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, ".part.") {
			continue
		}
		path := filepath.Join(dir, n)
		hexid, name, ok := strings.Cut(strings.TrimPrefix(n, ".part."), ".")
		xfer, err := strconv.ParseUint(hexid, 16, 64)
		if !ok || err != nil || s.finished || remoteimg.CheckName(name) != nil {
			_ = os.Remove(path)
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		h := crc32.New(remoteimg.Castagnoli)
		size, err := io.Copy(h, f)
		if err != nil {
			f.Close()
			continue
		}
		img := &image{name: name, xfer: xfer, snap: s, file: f, path: path, length: uint64(size),
			crc: h.Sum32(), state: arriving, changed: make(chan struct{})}
		s.images[name] = img
		s.xfers[xfer] = img
	}
	if s.finished {
		for _, img := range s.images {
			s.manifest = append(s.manifest, remoteimg.ImageInfo{Name: img.name, Size: img.length, CRC: img.crc})
		}
		sort.Slice(s.manifest, func(i, j int) bool { return s.manifest[i].Name < s.manifest[j].Name })
	}
	st.mu.Lock()
	st.snaps[id] = s
	if !s.finished {
		st.armAbandon(s)
	} else {
		st.armHold(s)
	}
	st.mu.Unlock()
	st.log.Info().Str("snapshot", id).Bool("finished", s.finished).Int("images", len(s.images)).Msg("kept snapshot loaded")
	return nil
}
