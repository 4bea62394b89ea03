package remote

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/remoteimg"
	"github.com/rs/zerolog"
)

var (
	_ image.Store        = (*Store)(nil)
	_ image.Releaser     = (*Store)(nil)
	_ image.Chained      = (*Store)(nil)
	_ image.LateFinisher = (*Store)(nil)
	_ image.Writer       = (*Writer)(nil)
)

// Mode says whether a Store writes a snapshot (dump, through the proxy) or
// reads one (restore, from the cache).
type Mode int

// Modes.
const (
	ModeWrite Mode = 1
	ModeRead  Mode = 2
)

// Options configure a Store.
type Options struct {
	// Snapshot is the snapshot id (see remoteimg.SnapshotID); required.
	Snapshot string
	// Parent is the parent snapshot's id for pre-dump chains, or "".
	// When set, SetParent keeps it whatever directory it is given.
	Parent string
	// Dir is the images directory the snapshot id was derived from, if
	// any: SetParent resolves a relative parent directory against it.
	Dir string
	// Mode is ModeWrite (socket is the proxy's) or ModeRead (the cache's).
	Mode Mode
	// WaitSnapshot bounds every wait of a reader (read mode): for a snapshot
	// the cache has not heard of yet (then remoteimg.ErrNotExist), for an
	// image of an unfinished snapshot to appear, for its next bytes, and for
	// its dump to confirm it (remoteimg.ErrUnavailable, saying what the
	// snapshot's state is). 0: no wait for an unknown snapshot, and the other
	// waits are unbounded.
	WaitSnapshot time.Duration
	// Log receives debug logs of transfers.
	Log zerolog.Logger
}

// Store is the remote image.Store: in write mode it sends images to the
// image proxy's local socket, in read mode it reads them from the image
// cache's local socket. Each open image uses its own connection.
type Store struct {
	socket string
	opts   Options

	mu       sync.Mutex // protects the fields below
	parent   string     // the parent snapshot's id (write mode), or ""
	manifest map[string]remoteimg.ImageInfo
	open     map[*Writer]struct{}
	closed   bool
	sent     uint64    // image bytes sent, in all (write mode)
	progAt   time.Time // last progress log
	progSent uint64    // sent at progAt
	started  time.Time
}

// Dial connects to the daemon at socketPath (the proxy for ModeWrite, the
// cache for ModeRead), checks that it speaks our protocol, and returns a
// Store for snapshot opts.Snapshot.
func Dial(ctx context.Context, socketPath string, opts Options) (*Store, error) {
	if err := remoteimg.CheckName(opts.Snapshot); err != nil {
		return nil, fmt.Errorf("snapshot id: %w", err)
	}
	if opts.Parent != "" {
		if err := remoteimg.CheckName(opts.Parent); err != nil {
			return nil, fmt.Errorf("parent snapshot id: %w", err)
		}
	}
	if opts.Mode != ModeWrite && opts.Mode != ModeRead {
		return nil, fmt.Errorf("remote store: mode must be ModeWrite or ModeRead")
	}
	s := &Store{socket: socketPath, opts: opts, parent: opts.Parent, manifest: map[string]remoteimg.ImageInfo{}, open: map[*Writer]struct{}{}}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.Close()
	return s, nil
}

// CheckCache asks, in write mode, whether the proxy reaches its image
// cache now (it dials it afresh, as a reader relay, and lists). A dump
// calls it before it freezes anything: a cache known to be down, or one
// that refuses the proxy's certificate, fails the dump at once instead
// of after the proxy's reconnect timeout with the tasks frozen.
func (s *Store) CheckCache(ctx context.Context) error {
	if s.opts.Mode != ModeWrite {
		return fmt.Errorf("check image cache: store is read-only")
	}
	if _, err := ListSnapshots(ctx, s.socket); err != nil {
		return fmt.Errorf("the image proxy cannot reach its image cache: %w", err)
	}
	return nil
}

func (s *Store) role() remoteimg.Role {
	if s.opts.Mode == ModeWrite {
		return remoteimg.RoleWriter
	}
	return remoteimg.RoleReader
}

func (s *Store) dial(ctx context.Context) (*remoteimg.Conn, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("remote store: %w", net.ErrClosed)
	}
	return DialUnix(ctx, s.socket, s.role())
}

// DialUnix connects to a daemon's UNIX socket and does the handshake.
func DialUnix(ctx context.Context, path string, role remoteimg.Role) (*remoteimg.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w: %w", path, remoteimg.ErrUnavailable, err)
	}
	c, err := remoteimg.ClientHandshake(ctx, nc, role)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	return c, nil
}

// roundTrip sends m on stream 1 and waits for a Result, aborting when ctx
// ends.
func roundTrip(ctx context.Context, c *remoteimg.Conn, m remoteimg.Msg) error {
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.W.WriteMsg(1, m); err != nil {
		return ctxErr(ctx, fmt.Errorf("send %s: %w: %w", m.Type(), remoteimg.ErrUnavailable, err))
	}
	return readResult(ctx, c, m.Type())
}

func readResult(ctx context.Context, c *remoteimg.Conn, what remoteimg.Type) error {
	_, rm, err := c.ReadMsg()
	if err != nil {
		if errors.Is(err, remoteimg.ErrProtocol) {
			return err
		}
		return ctxErr(ctx, fmt.Errorf("%s: no reply: %w: %w", what, remoteimg.ErrUnavailable, err))
	}
	r, ok := rm.(*remoteimg.Result)
	if !ok {
		return fmt.Errorf("%s: %w: %s instead of Result", what, remoteimg.ErrProtocol, rm.Type())
	}
	return remoteimg.ResultError(*r)
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// Create starts writing image name (write mode). The image is sent as it
// is written; Close commits it.
func (s *Store) Create(ctx context.Context, name string) (image.Writer, error) {
	if s.opts.Mode != ModeWrite {
		return nil, fmt.Errorf("create image %s: store is read-only", name)
	}
	if err := remoteimg.CheckName(name); err != nil {
		return nil, fmt.Errorf("create image: %w", err)
	}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("create image %s: %w", name, err)
	}
	if err := roundTrip(ctx, c, &remoteimg.Put{Snapshot: s.opts.Snapshot, Parent: s.parentID(), Name: name}); err != nil {
		c.Close()
		return nil, fmt.Errorf("create image %s: %w", name, err)
	}
	w := &Writer{s: s, c: c, ctx: ctx, name: name, buf: make([]byte, 0, remoteimg.MaxChunk)}
	// ctx bounds the whole write, Close's commit included: once it is
	// done, a write blocked on the proxy returns.
	w.stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	s.mu.Lock()
	s.open[w] = struct{}{}
	delete(s.manifest, name)
	s.mu.Unlock()
	return w, nil
}

// Writer writes one image to the proxy.
type Writer struct {
	s    *Store
	c    *remoteimg.Conn
	ctx  context.Context // Create's: bounds every write and the commit
	stop func() bool     // stops the AfterFunc that cancels on ctx
	name string
	buf  []byte
	off  uint64 // bytes sent
	crc  uint32
	err  error // sticky
	done bool
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, fmt.Errorf("write image %s: %w", w.name, net.ErrClosed)
	}
	n := len(p)
	w.crc = crc32.Update(w.crc, remoteimg.Castagnoli(), p)
	// Full chunks go out straight from p (with what is buffered in front,
	// gathered by writev); only a tail shorter than a chunk is copied.
	for len(w.buf)+len(p) >= remoteimg.MaxChunk {
		k := remoteimg.MaxChunk - len(w.buf)
		if err := w.send(w.buf, p[:k]); err != nil {
			return 0, err
		}
		w.buf = w.buf[:0]
		p = p[k:]
	}
	w.buf = append(w.buf, p...)
	// Small writes are coalesced, but never more than flushAt bytes wait
	// for the next Write: readers get an image's bytes while it arrives.
	if len(w.buf) >= flushAt {
		if err := w.send(w.buf); err != nil {
			return 0, err
		}
		w.buf = w.buf[:0]
	}
	return n, nil
}

// flushAt is how many buffered bytes a Writer sends without waiting to
// fill a whole chunk.
const flushAt = 256 << 10

func (w *Writer) send(parts ...[]byte) error {
	if err := w.c.W.WriteData(1, w.off, parts...); err != nil {
		w.err = ctxErr(w.ctx, fmt.Errorf("write image %s: %w: %w", w.name, remoteimg.ErrUnavailable, err))
		return w.err
	}
	n := uint64(0)
	for _, b := range parts {
		n += uint64(len(b))
	}
	w.off += n
	w.s.progress(n)
	return nil
}

// progressEvery is how often a long write logs its progress.
const progressEvery = 5 * time.Second

// progress counts n more bytes sent and logs the snapshot's progress and
// throughput at most every progressEvery.
func (s *Store) progress(n uint64) {
	s.mu.Lock()
	now := time.Now()
	if s.started.IsZero() {
		s.started, s.progAt = now, now
	}
	s.sent += n
	d := now.Sub(s.progAt)
	if d < progressEvery {
		s.mu.Unlock()
		return
	}
	sent, rate := s.sent, float64(s.sent-s.progSent)/(1<<20)/d.Seconds()
	s.progAt, s.progSent = now, s.sent
	s.mu.Unlock()
	s.opts.Log.Info().Str("snapshot", s.opts.Snapshot).Uint64("sent_mib", sent>>20).Float64("mib_per_s", rate).
		Msg("sending images to the image proxy")
}

// Close commits the image: it returns nil once the proxy holds the whole
// image with the right size and checksum. The snapshot is durable only
// after Store.Finish.
func (w *Writer) Close() error {
	if w.done {
		return w.err
	}
	defer w.finish()
	if w.err != nil {
		return w.err
	}
	if len(w.buf) > 0 {
		if err := w.send(w.buf); err != nil {
			return err
		}
		w.buf = w.buf[:0]
	}
	if err := roundTrip(w.ctx, w.c, &remoteimg.Commit{Size: w.off, CRC: w.crc}); err != nil {
		w.err = fmt.Errorf("commit image %s: %w", w.name, err)
		return w.err
	}
	w.s.mu.Lock()
	w.s.manifest[w.name] = remoteimg.ImageInfo{Name: w.name, Size: w.off, CRC: w.crc}
	w.s.mu.Unlock()
	w.s.opts.Log.Debug().Str("img", w.name).Uint64("size", w.off).Msg("image committed to proxy")
	return nil
}

// abortTimeout bounds the write of an Abort.
const abortTimeout = time.Second

// Abort discards the image. Safe after Close.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	// A proxy that stopped reading (its budget is full) must not keep
	// the Abort, or a Store.Close, waiting: closing the connection
	// mid-image aborts the image as well.
	_ = w.c.SetWriteDeadline(time.Now().Add(abortTimeout))
	_ = w.c.W.WriteMsg(1, &remoteimg.Abort{})
	if w.err == nil {
		w.err = fmt.Errorf("write image %s: %w", w.name, remoteimg.ErrAborted)
	}
	w.finish()
	return nil
}

func (w *Writer) finish() {
	w.done = true
	w.stop()
	w.c.Close()
	w.s.mu.Lock()
	delete(w.s.open, w)
	w.s.mu.Unlock()
}

// Open opens image name for reading (read mode). It waits for an image
// that is still arriving; an image that does not exist once the snapshot
// is finished gives an error satisfying errors.Is(err, fs.ErrNotExist).
// ctx bounds the whole read, not just the open.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if s.opts.Mode != ModeRead {
		return nil, fmt.Errorf("open image %s: store is write-only", name)
	}
	if err := remoteimg.CheckName(name); err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", name, err)
	}
	wait := s.opts.WaitSnapshot.Milliseconds()
	if wait > 1<<31 {
		wait = 1 << 31
	}
	var bound *waitBound
	if s.opts.WaitSnapshot > 0 {
		// The cache answers an unknown snapshot within wait; beyond that
		// it waits for the image to appear in an arriving snapshot.
		bound = s.newWaitBound(c, name, "to appear in", s.opts.WaitSnapshot+time.Second)
	}
	err = roundTrip(ctx, c, &remoteimg.Get{Snapshot: s.opts.Snapshot, Name: name, WaitMillis: uint32(wait)})
	if err != nil && bound.expired() {
		err = bound.err(ctx)
	}
	bound.stop()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("open image %s: %w", name, err)
	}
	r := &Reader{s: s, c: c, name: name}
	r.stop = context.AfterFunc(ctx, func() { c.Close() })
	return r, nil
}

// Reader reads one image from the cache as it arrives. It returns io.EOF
// only after the cache has sent the image's end and the size and checksum
// match what was read.
type Reader struct {
	s    *Store
	c    *remoteimg.Conn
	name string
	stop func() bool
	buf  []byte // frame payloads are read into it; rest aliases it
	rest []byte
	off  uint64
	crc  uint32
	err  error // sticky, io.EOF at the end
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

func (r *Reader) next() error {
	if r.buf == nil {
		r.buf = make([]byte, remoteimg.MaxPayload)
	}
	var bound *waitBound
	if r.s.opts.WaitSnapshot > 0 {
		bound = r.s.newWaitBound(r.c, r.name, "to arrive whole in", r.s.opts.WaitSnapshot)
	}
	f, err := remoteimg.ReadFrameBuf(r.c.R, remoteimg.MaxPayload, r.buf)
	if err != nil && bound.expired() {
		bound.stop()
		return fmt.Errorf("read image %s at %d: %w", r.name, r.off, bound.err(context.Background()))
	}
	bound.stop()
	var m remoteimg.Msg
	if err == nil {
		m, err = remoteimg.Decode(f)
	}
	if err != nil {
		if errors.Is(err, remoteimg.ErrProtocol) {
			return fmt.Errorf("read image %s: %w", r.name, err)
		}
		return fmt.Errorf("read image %s at %d: %w: %w", r.name, r.off, remoteimg.ErrTruncated, err)
	}
	switch m := m.(type) {
	case *remoteimg.Data:
		if m.Offset != r.off {
			return fmt.Errorf("read image %s: %w: data at %d, expected %d", r.name, remoteimg.ErrProtocol, m.Offset, r.off)
		}
		r.off += uint64(len(m.Bytes))
		r.crc = crc32.Update(r.crc, remoteimg.Castagnoli(), m.Bytes)
		r.rest = m.Bytes
		return nil
	case *remoteimg.End:
		if m.Size != r.off {
			return fmt.Errorf("read image %s: %w: got %d of %d bytes", r.name, remoteimg.ErrTruncated, r.off, m.Size)
		}
		if m.CRC != r.crc {
			return fmt.Errorf("read image %s: %w", r.name, remoteimg.ErrCorrupt)
		}
		return io.EOF
	case *remoteimg.Result:
		err := remoteimg.ResultError(*m)
		if err == nil {
			err = fmt.Errorf("%w: ok result inside an image stream", remoteimg.ErrProtocol)
		}
		return fmt.Errorf("read image %s: %w", r.name, err)
	}
	return fmt.Errorf("read image %s: %w: unexpected %s", r.name, remoteimg.ErrProtocol, m.Type())
}

// waitBound limits one blocking read on a reader's connection to d: it
// logs what it waits for after a few seconds, and at d it interrupts the
// read; err then says what the cache holds of the snapshot.
type waitBound struct {
	s     *Store
	c     *remoteimg.Conn
	name  string
	what  string
	d     time.Duration
	start time.Time
	logT  *time.Timer
}

// waitLogAfter is how long a reader waits before it says so.
const waitLogAfter = 3 * time.Second

func (s *Store) newWaitBound(c *remoteimg.Conn, name, what string, d time.Duration) *waitBound {
	b := &waitBound{s: s, c: c, name: name, what: what, d: d, start: time.Now()}
	_ = c.SetReadDeadline(b.start.Add(d))
	b.logT = time.AfterFunc(min(waitLogAfter, d/2), func() {
		s.opts.Log.Info().Str("snapshot", s.opts.Snapshot).Str("img", name).Dur("limit", d).
			Msg("waiting for image " + name + " " + what + " snapshot " + s.opts.Snapshot)
	})
	return b
}

// expired reports whether the read ended by the bound.
func (b *waitBound) expired() bool {
	return b != nil && time.Since(b.start) >= b.d
}

func (b *waitBound) stop() {
	if b == nil {
		return
	}
	b.logT.Stop()
	_ = b.c.SetReadDeadline(time.Time{})
}

// err is the error of an expired wait: what was waited for, for how
// long, and the snapshot's state at the cache.
func (b *waitBound) err(ctx context.Context) error {
	return fmt.Errorf("%w: waited %v (--remote-wait) for image %s %s snapshot %s, which %s",
		remoteimg.ErrUnavailable, b.d.Round(time.Millisecond), b.name, b.what, b.s.opts.Snapshot, b.s.describe(ctx))
}

// describe says what the cache holds of the snapshot, for an error.
func (s *Store) describe(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	snaps, err := ListSnapshots(ctx, s.socket)
	if err != nil {
		return fmt.Sprintf("the cache could not describe (%v)", err)
	}
	for _, si := range snaps {
		if si.ID != s.opts.Snapshot {
			continue
		}
		switch {
		case si.Finished:
			return fmt.Sprintf("is finished (%d images, %d bytes)", si.Images, si.Bytes)
		case si.Held:
			return fmt.Sprintf("is held unconfirmed (%d images, %d bytes): its dump has not confirmed it, and never will if it failed", si.Images, si.Bytes)
		}
		return fmt.Sprintf("is still arriving (%d images, %d bytes so far): its dump has not finished it", si.Images, si.Bytes)
	}
	return "the cache does not hold"
}

// Close ends the read.
func (r *Reader) Close() error {
	r.stop()
	if r.err == nil {
		r.err = fmt.Errorf("read image %s: %w", r.name, net.ErrClosed)
	}
	return r.c.Close()
}

// Finish sends the snapshot's manifest (every image committed through this
// Store) and returns nil only when the cache has acknowledged it, relayed
// by the proxy. Any failure on the way is an error.
//
// The finish has two phases, so that the dump's outcome and the
// snapshot's state agree: the cache answers Finish once it holds the
// snapshot whole, but serves it only after Confirm, which Finish sends
// right after that ok (dump kills its tasks only once Finish returned
// nil; a dump that fails before never confirms, and the cache drops the
// held snapshot after its resume timeout). The one window left: the
// cache confirmed but its answer was lost (proxy killed just then); the
// error then says that the cache may serve the snapshot.
func (s *Store) Finish(ctx context.Context) error {
	return s.FinishWith(ctx, "", nil)
}

// FinishWith is Finish with a late image: once the cache holds the
// snapshot (Finish's ok), it calls last for the bytes of image name
// (remoteimg.LateImage) and sends them with the Confirm, so the cache
// stores them into the snapshot before it serves it. A dump puts its stats
// there: their frozen time then includes the Finish's round trip. An error
// from last fails the finish (no Confirm is sent). name "" is Finish.
func (s *Store) FinishWith(ctx context.Context, name string, last func() ([]byte, error)) error {
	if s.opts.Mode != ModeWrite {
		return fmt.Errorf("finish snapshot: store is read-only")
	}
	s.mu.Lock()
	var open []string
	for w := range s.open {
		open = append(open, w.name)
	}
	imgs := make([]remoteimg.ImageInfo, 0, len(s.manifest))
	for _, im := range s.manifest {
		imgs = append(imgs, im)
	}
	s.mu.Unlock()
	if len(open) > 0 {
		sort.Strings(open)
		return fmt.Errorf("finish snapshot %s: images still open: %v", s.opts.Snapshot, open)
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].Name < imgs[j].Name })
	c, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("finish snapshot %s: %w", s.opts.Snapshot, err)
	}
	defer c.Close()
	start := time.Now()
	if err := roundTrip(ctx, c, &remoteimg.Finish{Snapshot: s.opts.Snapshot, Parent: s.parentID(), Images: imgs}); err != nil {
		return fmt.Errorf("finish snapshot %s: %w", s.opts.Snapshot, err)
	}
	s.opts.Log.Debug().Str("snapshot", s.opts.Snapshot).Int("images", len(imgs)).
		Dur("wait", time.Since(start)).Msg("snapshot held by image cache, confirming it")
	conf := &remoteimg.Confirm{Snapshot: s.opts.Snapshot}
	if name != "" {
		b, err := last()
		if err != nil {
			return fmt.Errorf("finish snapshot %s: image %s: %w", s.opts.Snapshot, name, err)
		}
		conf.Name, conf.Bytes, conf.CRC = name, b, crc32.Checksum(b, remoteimg.Castagnoli())
		if err := remoteimg.CheckLate(conf); err != nil {
			return fmt.Errorf("finish snapshot %s: %w", s.opts.Snapshot, err)
		}
	}
	if err := roundTrip(ctx, c, conf); err != nil {
		var re *remoteimg.RemoteError
		if errors.As(err, &re) {
			return fmt.Errorf("confirm snapshot %s: %w (the cache will not serve it)", s.opts.Snapshot, err)
		}
		return fmt.Errorf("confirm snapshot %s: %w; the cache may have confirmed it before the answer was lost: "+
			"check with criu image-cache --list and release it (--release %s) before any restore", s.opts.Snapshot, err, s.opts.Snapshot)
	}
	s.opts.Log.Debug().Str("snapshot", s.opts.Snapshot).Int("images", len(imgs)).
		Dur("wait", time.Since(start)).Msg("snapshot acknowledged by image cache")
	return nil
}

// Release tells the cache this restore is done with the snapshot (read
// mode); the cache frees it unless it runs with --keep.
func (s *Store) Release(ctx context.Context) error {
	if s.opts.Mode != ModeRead {
		return fmt.Errorf("release snapshot: store is write-only")
	}
	c, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("release snapshot %s: %w", s.opts.Snapshot, err)
	}
	defer c.Close()
	if err := roundTrip(ctx, c, &remoteimg.Release{Snapshot: s.opts.Snapshot}); err != nil {
		return fmt.Errorf("release snapshot %s: %w", s.opts.Snapshot, err)
	}
	return nil
}

// Close aborts images still being written and closes the store. Safe
// twice.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	var ws []*Writer
	for w := range s.open {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		// Unblocks a Write stuck on a stalled proxy, then aborts.
		_ = w.c.SetWriteDeadline(time.Now().Add(abortTimeout))
		w.Abort()
	}
	return nil
}

// ListSnapshots asks the cache at socketPath for its snapshots.
func ListSnapshots(ctx context.Context, socketPath string) ([]remoteimg.SnapshotInfo, error) {
	c, err := DialUnix(ctx, socketPath, remoteimg.RoleReader)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.W.WriteMsg(1, &remoteimg.List{}); err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	_, m, err := c.ReadMsg()
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("list snapshots: %w", err))
	}
	switch m := m.(type) {
	case *remoteimg.ListReply:
		return m.Snapshots, nil
	case *remoteimg.Result:
		return nil, fmt.Errorf("list snapshots: %w", remoteimg.ResultError(*m))
	}
	return nil, fmt.Errorf("list snapshots: %w: %s", remoteimg.ErrProtocol, m.Type())
}
