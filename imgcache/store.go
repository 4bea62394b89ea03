package imgcache

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/criugo/criu/imgcache/disk"
	"github.com/criugo/criu/imgcache/limits"
	"github.com/criugo/criu/remoteimg"
	"github.com/rs/zerolog"
)

type imgState int

const (
	arriving imgState = iota
	complete
	failed
)

// image is one transfer of one image. name, xfer and snap are set at
// creation and never change; the other fields are guarded by store.mu
// (crc and length are changed only by the holder of wmu, with store.mu
// held too, so the holder of wmu may read them without store.mu). The
// bytes of an image (its file, the arena tail past segUsed) are written
// only by the holder of wmu, with store.mu dropped, before length
// covers them; readers read only below length.
type image struct {
	name string
	xfer uint64
	snap *snapshot

	chunks  [][]byte // memory mode: the bytes, in order
	charge  int64    // memory mode: bytes of store.memUsed this image holds
	arenas  [][]byte // memory mode: the arenas chunks may lie in (freed with the image)
	seg     []byte   // memory mode: the arena being filled; seg[segUsed:] is free
	segUsed int
	file    *disk.File // disk mode (closed and nil once dropped and unread)
	path    string     // disk mode: current path
	length  uint64
	crc     uint32
	state   imgState
	err     error
	changed chan struct{} // closed (and replaced) on every change
	refs    int           // readers holding the image
	dropped bool          // no longer reachable from its snapshot
	corrupt error         // disk mode: the file does not hold what was committed (never served)

	// wmu serializes write and commit of this image: after a reconnect,
	// the old connection's goroutine may still be storing frames it had
	// buffered while the new one resumes, and a write drops store.mu
	// around the file I/O (and the arena fill). Lock order: see store.
	wmu sync.Mutex
}

// snapshot is one generation of a snapshot id. A snapshot given up,
// or restored under --keep, is replaced by a new *snapshot when a new
// dump comes; a Get that met one generation never gets images of
// another (see get), and a new dump never changes a snapshot a restore
// is reading (see mayReplace).
type snapshot struct {
	id, parent string
	images     map[string]*image // current version of each name
	xfers      map[uint64]*image // every transfer, for dedup
	finished   bool              // its Finish was accepted: held, served only once confirmed
	confirmed  bool              // its dump confirmed it (two-phase finish): served
	heldAt     time.Time         // when it was finished (held): the janitor's clock until confirmed
	released   bool              // Release asked for it while other snapshots build on it
	restored   bool              // released under --keep: a new dump may replace it
	manifest   []remoteimg.ImageInfo
	// abandoned is set once the snapshot is given up (no activity for
	// resumeTTL, its Finish refused, the memory budget exceeded, or
	// dropped): its images are freed and every Get of it gets this
	// error. An abandoned snapshot stays in store.snaps as a tombstone
	// (no images) until a new dump replaces it.
	abandoned error
	touched   time.Time // last Put, Data or Commit (the janitor's clock)
	lastRead  time.Time // last Get served or ended
	changed   chan struct{}
	// disk is the snapshot's directory and journal (disk mode), nil once
	// the snapshot is dropped or given up (its directory removed).
	disk *disk.Snap
}

// store holds every snapshot: the state machine of snapshots and images
// (this file), with its memory (direct.go, arena_linux.go) and, with a
// directory, its persistence and recovery (package disk, recover.go).
type store struct {
	dir       string
	disk      *disk.Dir // with dir: the snapshots' directories
	maxMem    int64
	keep      bool
	resumeTTL time.Duration
	log       zerolog.Logger

	// mu guards the snapshots, their images and the memory budget.
	//
	// Lock order, outermost first (a lock is only taken while holding
	// those above it, never the other way):
	//
	//	srv.conns' lock  (ConnSet: Drain calls conn.CloseIfIdle under it)
	//	conn.mu          (idleLocked calls anyOpen)
	//	image.wmu        (write, writeFrom, commit: held across the I/O)
	//	store.mu
	//	arenaPool.mu, disk.Snap.mu  (leaves: nothing is taken under them)
	//
	// conn.mu and image.wmu are never held together. image.wmu may be
	// held while arenaPool.mu is taken (writeFrom's arena get, with
	// store.mu dropped), and the pool charges the spare (chargeSpare,
	// store.mu) only after dropping its own lock. The one place that
	// touches image.wmu under store.mu is the janitor's inFlight, with
	// TryLock, which never waits (so it is not an inversion).
	// limits.Peers.mu, limits.Buffers.mu and acker.mu are leaves too,
	// never taken with store.mu held (a reader's buffer is charged after
	// read drops it).
	mu         sync.Mutex
	snaps      map[string]*snapshot
	memUsed    int64
	memChanged chan struct{}
	changed    chan struct{} // snapshot set changed
	draining   bool          // Shutdown began: no new snapshot is taken
	arenas     arenaPool
	stopJan    chan struct{} // closed by close: ends the janitor
	janDone    chan struct{}
}

func notify(ch *chan struct{}) {
	close(*ch)
	*ch = make(chan struct{})
}

func newStore(dir string, maxMem int64, keep bool, resumeTTL time.Duration, log zerolog.Logger) (*store, error) {
	st := &store{dir: dir, maxMem: maxMem, keep: keep, resumeTTL: resumeTTL, log: log,
		snaps: map[string]*snapshot{}, memChanged: make(chan struct{}), changed: make(chan struct{}),
		stopJan: make(chan struct{}), janDone: make(chan struct{})}
	st.arenas.charge = st.chargeSpare
	if dir != "" {
		d, err := disk.Open(dir, log)
		if err != nil {
			return nil, err
		}
		st.disk = d
		if err := st.load(); err != nil {
			return nil, err
		}
	}
	go st.janitor()
	return st, nil
}

// janitor gives up the unfinished snapshots nothing happened to for
// resumeTTL: a dump that failed (or whose proxy went away for good)
// leaves images that no Finish will ever claim, and without this they
// would hold the cache's memory (or disk) forever. It also forgets the
// tombstones no reader has touched for resumeTTL.
func (st *store) janitor() {
	defer close(st.janDone)
	tick := max(st.resumeTTL/4, 10*time.Millisecond)
	t := time.NewTicker(min(tick, time.Second))
	defer t.Stop()
	for {
		select {
		case <-st.stopJan:
			return
		case <-t.C:
		}
		st.mu.Lock()
		now := time.Now()
		for _, s := range st.snaps {
			switch {
			case s.abandoned == nil && s.finished && !s.confirmed && now.Sub(s.heldAt) > st.resumeTTL:
				// Two-phase finish: a dump that failed after its Finish
				// was acknowledged never confirms; it resumed its tasks.
				st.abandonLocked(s, fmt.Errorf("snapshot %s: %w: its dump never confirmed it within %v (the dump failed; its tasks were resumed)",
					s.id, remoteimg.ErrAborted, st.resumeTTL))
			case s.abandoned == nil && !s.finished && now.Sub(s.touched) > st.resumeTTL && !st.inFlight(s):
				st.abandonLocked(s, fmt.Errorf("snapshot %s: %w: no proxy resumed or finished it within %v (the dump failed or its proxy went away); its images are freed",
					s.id, remoteimg.ErrAborted, st.resumeTTL))
			case s.abandoned != nil && !st.beingRead(s, now) && now.Sub(s.touched) > st.resumeTTL:
				delete(st.snaps, s.id)
				notify(&st.changed)
			}
		}
		st.mu.Unlock()
	}
}

// inFlight reports whether a write or commit of s is under way (img.wmu
// held by a proxy connection); st.mu held. It only tries img.wmu (the
// lock order puts it before st.mu).
func (st *store) inFlight(s *snapshot) bool {
	for _, img := range s.images {
		if img.state == arriving && !img.wmu.TryLock() {
			return true
		} else if img.state == arriving {
			img.wmu.Unlock()
		}
	}
	return false
}

// beingRead reports whether a restore reads s: an image of it is held
// by a reader, or one was served within resumeTTL; st.mu held.
func (st *store) beingRead(s *snapshot, now time.Time) bool {
	for _, img := range s.xfers {
		if img.refs > 0 {
			return true
		}
	}
	return !s.lastRead.IsZero() && now.Sub(s.lastRead) < st.resumeTTL
}

// abandonLocked gives s up with err: its arriving images fail with err,
// every image's memory and file is freed (readers already holding an
// image finish reading it), and s stays as a tombstone answering err;
// st.mu held.
func (st *store) abandonLocked(s *snapshot, err error) {
	if s.abandoned != nil {
		return
	}
	st.log.Warn().Str("snapshot", s.id).Err(err).Msg("snapshot abandoned")
	for _, img := range s.xfers {
		notify(&img.changed) // readers waiting for the confirmation
		st.failImage(img, err)
		st.dropImage(img)
	}
	s.images, s.xfers = map[string]*image{}, map[uint64]*image{}
	st.removeDisk(s)
	s.abandoned = err
	s.touched = time.Now()
	notify(&s.changed)
	notify(&st.changed)
}

// anyOpen reports whether one of snaps is unfinished (or finished but
// not yet confirmed) and not given up.
func (st *store) anyOpen(snaps map[*snapshot]bool) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	for s := range snaps {
		if !s.confirmed && s.abandoned == nil && st.snaps[s.id] == s {
			return true
		}
	}
	return false
}

// setDraining makes put refuse new snapshots (and, in memory, finish
// refuse snapshots: they would die with the cache).
func (st *store) setDraining() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.draining = true
}

// newSnapshot creates snapshot id; st.mu held.
func (st *store) newSnapshot(id, parent string) (*snapshot, error) {
	s := &snapshot{id: id, parent: parent, images: map[string]*image{}, xfers: map[uint64]*image{},
		changed: make(chan struct{}), touched: time.Now()}
	if st.disk != nil {
		var err error
		if s.disk, err = st.disk.Create(id, parent); err != nil {
			return nil, err
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
	replace := false
	if s != nil {
		if img := s.xfers[xfer]; img != nil {
			s.touched = time.Now()
			return img, s, nil // resume (or re-commit) of a transfer we know
		}
		if err := st.mayReplace(s, m.Name, &replace); err != nil {
			return nil, nil, err
		}
	}
	if st.draining && (s == nil || replace) {
		return nil, nil, fmt.Errorf("snapshot %s: %w: the image cache is shutting down and takes no new snapshot", m.Snapshot, remoteimg.ErrShutdown)
	}
	if replace {
		// A new dump under the id: the old generation (a failed attempt,
		// or a snapshot restored under --keep) goes whole, records and
		// files, before the new one starts.
		st.log.Info().Str("snapshot", s.id).Bool("finished", s.finished).Msg("new dump under the id: dropping the old attempt")
		st.dropSnapshot(s)
		s = nil
	}
	if s == nil {
		var err error
		if s, err = st.newSnapshot(m.Snapshot, m.Parent); err != nil {
			return nil, nil, err
		}
	}
	s.touched = time.Now()
	img := &image{name: m.Name, xfer: xfer, snap: s, changed: make(chan struct{})}
	if s.disk != nil {
		f, path, err := s.disk.Part(xfer, m.Name)
		if err != nil {
			return nil, nil, err
		}
		img.file, img.path = f, path
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

// overflowLocked drops snapshot s, whose next n bytes do not fit in
// MaxMemory, and returns the error its dump gets; st.mu held.
func (st *store) overflowLocked(s *snapshot, n int) error {
	var held int64
	for _, img := range s.xfers {
		held += img.charge
	}
	others := 0
	for _, o := range st.snaps {
		if o != s && o.abandoned == nil {
			others++
		}
	}
	err := fmt.Errorf("snapshot %s: %w: --max-memory %s cannot hold it (it held %s when %s more came; "+
		"%s in use in all, %d other snapshots): the snapshot is dropped; restore or release the other snapshots, "+
		"raise --max-memory, or keep snapshots on disk (-D)", s.id, remoteimg.ErrNoSpace,
		limits.MiB(st.maxMem), limits.MiB(held), limits.MiB(int64(n)), limits.MiB(st.memUsed), others)
	st.abandonLocked(s, err)
	return err
}

// mayReplace decides what a Put of a new transfer of image name does to
// the existing generation s, and refuses what would break a promise:
//   - a finished (confirmed) snapshot no restore has released is never
//     destroyed by a new writer (ErrExist);
//   - s given up (abandoned), held but never confirmed (its dump
//     failed), or restored under --keep, is replaced whole by a new
//     generation (*replace);
//   - a name s already holds means a new attempt under the id (one dump
//     writes each image once): the image is replaced by name, and the
//     Finish's manifest drops what the old attempt left;
//   - otherwise the Put joins s (another image of the arriving dump).
//
// A new attempt never touches a snapshot a restore is reading (it would
// see images of two dumps): the attempt is refused (ErrExist) and the
// old attempt, which is dead since a new one started, is abandoned, so
// that its reader fails instead of waiting; st.mu held.
func (st *store) mayReplace(s *snapshot, name string, replace *bool) error {
	now := time.Now()
	switch {
	case s.confirmed && !s.restored:
		return fmt.Errorf("snapshot %s: %w: a finished snapshot no restore has released is held under this id; "+
			"a new dump would destroy it (restore it, or free it with criu image-cache --release %s)", s.id, remoteimg.ErrExist, s.id)
	case s.finished, s.abandoned != nil:
		*replace = true
	case s.images[name] != nil:
		if st.beingRead(s, now) {
			st.abandonLocked(s, fmt.Errorf("snapshot %s: %w: its dump was given up (a new dump under its id started)", s.id, remoteimg.ErrAborted))
		}
	default:
		return nil
	}
	if st.beingRead(s, now) {
		return fmt.Errorf("snapshot %s: %w: a restore is reading the snapshot held under this id; "+
			"a new dump under it would mix two dumps (wait for the restore to end, or free it with criu image-cache --release %s)",
			s.id, remoteimg.ErrExist, s.id)
	}
	return nil
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
	img.snap.touched = time.Now()
	if img.file == nil {
		// Memory mode: the bytes fit the budget or the snapshot is
		// dropped now (never a wait: the one reader of the proxy's
		// connection must not stall every other snapshot on it).
		if !st.room(int64(len(data))) {
			st.freeSpareLocked()
		}
		if !st.room(int64(len(data))) {
			err := st.overflowLocked(img.snap, len(data))
			st.mu.Unlock()
			return 0, err
		}
		st.memUsed += int64(len(data))
		img.charge += int64(len(data))
		img.chunks = append(img.chunks, data)
	} else {
		f := img.file
		st.mu.Unlock()
		if err := f.WriteAt(data, int64(at)); err != nil {
			st.mu.Lock()
			err = fmt.Errorf("image %s: write: %w", img.name, err)
			st.failImage(img, err)
			st.mu.Unlock()
			return 0, err
		}
		st.mu.Lock()
		if img.state != arriving {
			err := img.err
			st.mu.Unlock()
			return 0, err
		}
	}
	img.length += uint64(len(data))
	img.crc = crc32.Update(img.crc, remoteimg.Castagnoli(), data)
	notify(&img.changed)
	n := img.length
	st.mu.Unlock()
	return n, nil
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
	// With a file, sd is set: dropping or giving up a snapshot fails its
	// arriving images under st.mu, in the same step as it clears s.disk.
	f, part, sd := img.file, img.path, s.disk
	st.mu.Unlock()
	var final string
	if f != nil {
		var err error
		if final, err = sd.Commit(f, part, img.xfer, size, crc, img.name); err != nil {
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
		disk.RemoveFile(img.path)
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
	st.removeDisk(s)
	if st.snaps[s.id] == s {
		delete(st.snaps, s.id)
	}
	if s.abandoned == nil {
		s.abandoned = fmt.Errorf("snapshot %s: %w: released, or replaced by a new dump under its id", s.id, remoteimg.ErrNotExist)
	}
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
	if s != nil && s.abandoned != nil {
		err := s.abandoned
		st.mu.Unlock()
		return err
	}
	if st.draining && st.dir == "" && (s == nil || !s.finished) {
		// Acknowledging it would kill the task for a snapshot that dies
		// with this process in a moment.
		err := fmt.Errorf("snapshot %s: %w: the image cache is shutting down and holds snapshots in memory only (no -D): "+
			"this snapshot would be lost with it", m.Snapshot, remoteimg.ErrShutdown)
		if s != nil {
			st.abandonLocked(s, err)
		}
		st.mu.Unlock()
		return err
	}
	if s == nil {
		if st.draining {
			st.mu.Unlock()
			return fmt.Errorf("snapshot %s: %w: the image cache is shutting down and takes no new snapshot", m.Snapshot, remoteimg.ErrShutdown)
		}
		var err error
		if s, err = st.newSnapshot(m.Snapshot, m.Parent); err != nil {
			st.mu.Unlock()
			return err
		}
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
		var err error
		switch {
		case img == nil || img.state != complete:
			err = fmt.Errorf("snapshot %s: %w: image %s not held whole", s.id, remoteimg.ErrIncomplete, w.Name)
		case img.length != w.Size || img.crc != w.CRC:
			err = fmt.Errorf("snapshot %s: %w: image %s is %d bytes crc %08x, manifest says %d crc %08x",
				s.id, remoteimg.ErrIncomplete, w.Name, img.length, img.crc, w.Size, w.CRC)
		}
		if err != nil {
			// The dump fails on this answer: nothing will claim the
			// images any more.
			st.abandonLocked(s, fmt.Errorf("%w (its Finish was refused)", err))
			st.mu.Unlock()
			return err
		}
	}
	for name, img := range s.images {
		if !inManifest[name] {
			st.failImage(img, fmt.Errorf("image %s: %w: not in the manifest", name, remoteimg.ErrAborted))
			delete(s.images, name)
			if img.path != "" {
				disk.RemoveFile(img.path)
			}
			st.dropImage(img)
		}
	}
	// Finish has the last word on the parent (a Put may have come before
	// the writer named it).
	s.parent = m.Parent
	var recs []disk.Commit
	for _, w := range want {
		recs = append(recs, disk.Commit{Xfer: s.images[w.Name].xfer, ImageInfo: w})
	}
	sd := s.disk
	st.mu.Unlock()
	if sd != nil {
		// The finished journal replaces the old one whole (rename), so
		// what a restarted cache replays is exactly this manifest.
		if err := sd.Finish(m.Parent, recs); err != nil {
			err = fmt.Errorf("snapshot %s: journal: %w", s.id, err)
			st.mu.Lock()
			st.abandonLocked(s, err)
			st.mu.Unlock()
			return err
		}
	}
	st.mu.Lock()
	if s.abandoned != nil {
		err := s.abandoned
		st.mu.Unlock()
		return err
	}
	s.finished = true
	s.heldAt = time.Now()
	s.manifest = want
	notify(&s.changed)
	st.mu.Unlock()
	var total uint64
	for _, w := range want {
		total += w.Size
	}
	st.log.Info().Str("snapshot", s.id).Int("images", len(want)).Uint64("bytes", total).Msg("snapshot held, waiting for its dump to confirm it")
	return nil
}

// confirm is the second phase of the finish: the dump that got Finish's
// ok confirms the snapshot, which is served from now on (a held one
// that is not confirmed within resumeTTL is given up by the janitor).
// A Confirm may carry the late image (remoteimg.LateImage, the dump's
// stats): it is stored into the snapshot (disk mode: file synced and
// renamed, then one journal line "finish commit …" records both the
// image and the confirmation) before the snapshot is served, so no
// reader sees the snapshot without it or with part of it. xfer is the
// Confirm's stream id, the late image's transfer id. Idempotent.
func (st *store) confirm(xfer uint64, m *remoteimg.Confirm) error {
	if err := remoteimg.CheckName(m.Snapshot); err != nil {
		return err
	}
	if err := remoteimg.CheckLate(m); err != nil {
		return err
	}
	st.mu.Lock()
	s := st.snaps[m.Snapshot]
	switch {
	case s == nil:
		st.mu.Unlock()
		return fmt.Errorf("snapshot %s: %w: not held (never finished, or dropped unconfirmed)", m.Snapshot, remoteimg.ErrNotExist)
	case s.abandoned != nil:
		err := s.abandoned
		st.mu.Unlock()
		return err
	case !s.finished:
		st.mu.Unlock()
		return fmt.Errorf("snapshot %s: %w: confirmed before its finish", m.Snapshot, remoteimg.ErrIncomplete)
	case s.confirmed:
		defer st.mu.Unlock()
		if m.Name != "" {
			if img := s.images[m.Name]; img == nil || img.length != uint64(len(m.Bytes)) || img.crc != m.CRC {
				return fmt.Errorf("snapshot %s: %w: confirmed again with another %s", s.id, remoteimg.ErrIncomplete, m.Name)
			}
		}
		return nil
	case m.Name != "" && s.images[m.Name] != nil:
		st.mu.Unlock()
		return fmt.Errorf("snapshot %s: %w: the Confirm carries %s, which its manifest has already", s.id, remoteimg.ErrProtocol, m.Name)
	}
	sd := s.disk
	var late *image
	if m.Name != "" {
		late = &image{name: m.Name, xfer: xfer, snap: s, length: uint64(len(m.Bytes)), crc: m.CRC,
			state: complete, changed: make(chan struct{})}
		if sd == nil {
			// Memory mode: charged like any image's bytes.
			n := int64(len(m.Bytes))
			if !st.room(n) {
				st.freeSpareLocked()
			}
			if !st.room(n) {
				err := st.overflowLocked(s, len(m.Bytes))
				st.mu.Unlock()
				return err
			}
			st.memUsed += n
			late.charge = n
			late.chunks = [][]byte{m.Bytes}
		}
	}
	st.mu.Unlock()
	if sd != nil {
		var rec *disk.Commit
		if late != nil {
			f, path, err := sd.WriteLate(xfer, m.Name, m.Bytes)
			if err != nil {
				return fmt.Errorf("snapshot %s: image %s: store: %w", s.id, m.Name, err)
			}
			late.file, late.path = f, path
			rec = &disk.Commit{Xfer: xfer, ImageInfo: remoteimg.ImageInfo{Name: m.Name, Size: late.length, CRC: late.crc}}
		}
		if err := sd.Confirm(rec); err != nil {
			if late != nil {
				late.file.Close()
			}
			return fmt.Errorf("snapshot %s: journal: %w", s.id, err)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if s.abandoned != nil {
		if late != nil {
			st.dropImage(late)
		}
		return s.abandoned
	}
	if late != nil {
		s.images[late.name] = late
		s.xfers[xfer] = late
		s.manifest = append(s.manifest, remoteimg.ImageInfo{Name: late.name, Size: late.length, CRC: late.crc})
		sort.Slice(s.manifest, func(i, j int) bool { return s.manifest[i].Name < s.manifest[j].Name })
	}
	s.confirmed = true
	for _, img := range s.images {
		notify(&img.changed)
	}
	notify(&s.changed)
	st.log.Info().Str("snapshot", s.id).Str("late", m.Name).Msg("snapshot confirmed by its dump, served")
	return nil
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
	var seen *snapshot // the generation this Get waits in
	for {
		var ch chan struct{}
		var timeout <-chan time.Time
		s := st.snaps[id]
		if seen != nil && s != seen {
			// Replaced (or released) while we waited: the new generation's
			// images are another dump's.
			return nil, seen.abandoned
		}
		if s != nil {
			seen = s
			s.lastRead = time.Now()
		}
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
		case s.abandoned != nil:
			return nil, s.abandoned
		case s.images[name] != nil:
			img := s.images[name]
			if img.corrupt != nil {
				return nil, img.corrupt
			}
			img.refs++
			return img, nil
		case s.finished && (s.confirmed || name != remoteimg.LateImage):
			return nil, fmt.Errorf("image %s of snapshot %s: %w", name, id, remoteimg.ErrNotExist)
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
	img.snap.lastRead = time.Now()
	st.maybeClose(img)
}

// cursor is a reader's position in an image.
type cursor struct {
	off   uint64
	chunk int // memory mode: index of the chunk holding off
	inOff int // offset in that chunk
	buf   []byte
	// alloc, when set, is asked before buf is allocated (it charges
	// it); its error ends the read.
	alloc func() error
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
		if img.state == complete && (img.snap.confirmed || !img.snap.finished) {
			size, crc = img.length, img.crc
			st.mu.Unlock()
			return nil, true, size, crc, nil
		}
		// Two-phase finish: no image of a held snapshot is whole to a
		// reader before its dump has confirmed it. (An image complete
		// in a snapshot still arriving is, so that a restore can run
		// while its dump does.)
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
		if cur.alloc != nil {
			if err := cur.alloc(); err != nil {
				return nil, false, 0, 0, fmt.Errorf("image %s: %w", img.name, err)
			}
		}
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
	if s.abandoned != nil {
		delete(st.snaps, id)
		notify(&st.changed)
		return nil
	}
	if st.keep {
		// Kept, but restored: a new dump under its id may replace it
		// (once no reader holds one of its images).
		s.restored = true
		s.lastRead = time.Time{}
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
		if s.abandoned != nil {
			continue // a tombstone
		}
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
	select {
	case <-st.stopJan:
	default:
		close(st.stopJan)
	}
	<-st.janDone
	st.arenas.close()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.dir == "" {
		n := 0
		for _, s := range st.snaps {
			if s.finished {
				n++
			}
		}
		if n > 0 {
			st.log.Warn().Int("snapshots", n).Msg("exiting with finished snapshots held in memory only (no -D): they are lost")
		}
	}
	for _, s := range st.snaps {
		if s.disk != nil {
			s.disk.Close()
		}
		for _, img := range s.xfers {
			if img.file != nil && img.refs == 0 {
				img.file.Close()
				img.file = nil
			}
		}
	}
}
