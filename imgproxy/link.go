package imgproxy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/criugo/criu/remoteimg"
	"github.com/rs/zerolog"
)

// chunk is image bytes [off, off+len(b)) as received from the writer.
// b lies in buf, a frame buffer from framePool, or is its own allocation
// (buf nil); charge is what it counts against the memory budget.
type chunk struct {
	off    uint64
	b      []byte
	buf    *[]byte
	charge int64
}

// framePool recycles the MaxPayload-sized buffers writer frames are read
// into, so that forwarding a large image allocates nothing per chunk.
var framePool = sync.Pool{New: func() any { b := make([]byte, remoteimg.MaxPayload); return &b }}

func getFrameBuf() *[]byte { return framePool.Get().(*[]byte) }

// xfer is one image transfer. Fields are guarded by link.mu.
type xfer struct {
	id                 uint64
	snap, parent, name string

	chunks     []chunk // bytes not yet acknowledged by the cache
	acked      uint64  // the cache holds [0, acked)
	received   uint64  // bytes received from the writer
	crc        uint32
	committed  bool // the writer committed: size == received
	sent       uint64
	opened     bool // Put sent on the current connection
	everOpened bool
	commitSent bool
	aborted    bool // the writer gave up: send Abort, then forget
	done       bool // the cache answered the commit (err on failure)
	err        error
}

// finishReq is a Finish or a Confirm waiting for the cache's answer; it
// is resent after a reconnect (both are idempotent at the cache).
type finishReq struct {
	id     uint64
	msg    remoteimg.Msg
	sent   bool
	sentAt time.Time
	done   chan struct{}
	err    error
}

// snapState tracks a snapshot's transfers until its Finish.
type snapState struct {
	pending   int                            // transfers not done or aborted
	errs      map[string]error               // failed images by name
	committed map[string]remoteimg.ImageInfo // images the cache holds
	changed   chan struct{}
}

// link is the proxy's side of the TCP leg: pending transfers and finishes,
// and the connection manager that (re)connects and resends them.
type link struct {
	dial       func(ctx context.Context) (net.Conn, error)
	maxMem     int64
	reconnect  time.Duration
	replyWait  time.Duration // how long a sent Finish or Confirm waits on a silent link
	log        zerolog.Logger
	idBase     uint64
	nextID     uint64
	kick       chan struct{}
	idle       chan struct{} // kicked whenever work may have drained
	mu         sync.Mutex    // protects everything below
	xfers      map[uint64]*xfer
	order      []*xfer // pending transfers, send order
	rr         int
	finishes   map[uint64]*finishReq
	snaps      map[string]*snapState
	memUsed    int64 // frames and connection buffers
	frameUsed  int64 // frames only
	memChanged chan struct{}
	connected  bool
	lastRecv   time.Time // when the cache last sent a frame
	acked      uint64    // image bytes the cache acknowledged, in all
	// sending is the frame buffer the sender is writing from (outside
	// l.mu); a chunk freed meanwhile returns it to the pool only when
	// the write is over (sendingFreed).
	sending      *[]byte
	sendingFreed bool
}

func newLink(dial func(context.Context) (net.Conn, error), maxMem int64, reconnect, replyWait time.Duration, log zerolog.Logger) *link {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &link{dial: dial, maxMem: maxMem, reconnect: reconnect, replyWait: replyWait, log: log,
		idBase: binary.LittleEndian.Uint64(b[:]) &^ 0xffffffff,
		kick:   make(chan struct{}, 1), idle: make(chan struct{}, 1),
		xfers: map[uint64]*xfer{}, finishes: map[uint64]*finishReq{}, snaps: map[string]*snapState{},
		memChanged: make(chan struct{})}
}

func notify(ch *chan struct{}) {
	close(*ch)
	*ch = make(chan struct{})
}

func (l *link) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// id returns a fresh transfer or request id; l.mu held.
func (l *link) id() uint64 {
	l.nextID++
	return l.idBase + l.nextID
}

func (l *link) snap(id string) *snapState {
	ss := l.snaps[id]
	if ss == nil {
		ss = &snapState{errs: map[string]error{}, committed: map[string]remoteimg.ImageInfo{}, changed: make(chan struct{})}
		l.snaps[id] = ss
	}
	return ss
}

// busy reports whether anything waits to be sent or answered; l.mu held.
func (l *link) busy() bool { return len(l.order) > 0 || len(l.finishes) > 0 }

func (l *link) newXfer(m *remoteimg.Put) *xfer {
	l.mu.Lock()
	defer l.mu.Unlock()
	x := &xfer{id: l.id(), snap: m.Snapshot, parent: m.Parent, name: m.Name}
	l.xfers[x.id] = x
	l.order = append(l.order, x)
	ss := l.snap(m.Snapshot)
	ss.pending++
	delete(ss.errs, m.Name)
	delete(ss.committed, m.Name)
	l.wake()
	return x
}

// acquire reserves n bytes of the memory budget for a frame, waiting
// for acks. Frames always get room when no frame holds any (the
// connections' own buffers, charged by reserve, may use the whole budget
// but never block the transfers that would free it).
func (l *link) acquire(ctx context.Context, n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.frameUsed > 0 && l.memUsed+int64(n) > l.maxMem {
		ch := l.memChanged
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			l.mu.Lock()
			return ctx.Err()
		}
		l.mu.Lock()
	}
	l.memUsed += int64(n)
	l.frameUsed += int64(n)
	return nil
}

// reserve charges a connection's own buffer (n bytes) against the
// budget, without waiting; unreserve gives it back.
func (l *link) reserve(n int64) {
	l.mu.Lock()
	l.memUsed += n
	l.mu.Unlock()
}

func (l *link) unreserve(n int64) {
	l.mu.Lock()
	l.memUsed -= n
	notify(&l.memChanged)
	l.mu.Unlock()
}

// acquireBuf charges n bytes of a connection's fixed buffers that it
// cannot make progress without (a reader relay's frame buffers): it
// waits while frames hold budget (the cache's acks free them, whatever
// this connection does), and refuses at once (ErrNoSpace) when the
// connections' buffers alone fill it, since waiting for them could
// wait for ever (a dump holding one relay while it opens another).
func (l *link) acquireBuf(ctx context.Context, n int64, what string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.memUsed+n > l.maxMem {
		if l.frameUsed == 0 {
			return fmt.Errorf("%w: the proxy's --max-memory %.1f MiB cannot hold the buffers of %s (%.1f MiB; "+
				"%.1f MiB held by other connections' buffers): raise --max-memory or read fewer images at once",
				remoteimg.ErrNoSpace, float64(l.maxMem)/(1<<20), what, float64(n)/(1<<20), float64(l.memUsed)/(1<<20))
		}
		ch := l.memChanged
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			l.mu.Lock()
			return ctx.Err()
		}
		l.mu.Lock()
	}
	l.memUsed += n
	return nil
}

// connBufCharge is what a writer connection's own read buffer
// (remoteimg.Conn's) counts against the budget while it lives.
const connBufCharge = 64 << 10

// free returns n bytes to the budget.
func (l *link) free(n int64) {
	l.mu.Lock()
	l.freeLocked(n)
	l.mu.Unlock()
}

// freeLocked returns n bytes to the budget; l.mu held.
func (l *link) freeLocked(n int64) {
	if n == 0 {
		return
	}
	l.memUsed -= n
	l.frameUsed -= n
	notify(&l.memChanged)
}

// releaseLocked returns c's memory: its budget and its frame buffer;
// l.mu held.
func (l *link) releaseLocked(c chunk) {
	if c.buf != nil {
		if c.buf == l.sending {
			l.sendingFreed = true
		} else {
			framePool.Put(c.buf)
		}
	}
}

// append adds writer bytes c.b to x (budget c.charge already acquired).
// It returns the transfer's error when it has already failed (the bytes
// are dropped).
func (l *link) append(x *xfer, c chunk, crc uint32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if x.done || x.aborted {
		l.releaseLocked(c)
		l.freeLocked(c.charge)
		return x.err
	}
	c.off = x.received
	x.chunks = append(x.chunks, c)
	x.received += uint64(len(c.b))
	x.crc = crc
	l.wake()
	return nil
}

// commit marks x complete on the writer's side. It returns x's error if
// the cache already refused it.
func (l *link) commit(x *xfer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if x.done || x.aborted {
		return x.err
	}
	x.committed = true
	l.wake()
	return nil
}

// abort discards x.
func (l *link) abort(x *xfer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if x.done || x.aborted {
		return
	}
	x.aborted = true
	l.dropData(x)
	ss := l.snap(x.snap)
	ss.pending--
	notify(&ss.changed)
	if !x.everOpened {
		l.remove(x)
	}
	l.wake()
}

func (l *link) dropData(x *xfer) {
	var n int64
	for _, c := range x.chunks {
		n += c.charge
		l.releaseLocked(c)
	}
	x.chunks = nil
	l.freeLocked(n)
}

// remove forgets x; l.mu held.
func (l *link) remove(x *xfer) {
	delete(l.xfers, x.id)
	for i, y := range l.order {
		if y == x {
			l.order = append(l.order[:i], l.order[i+1:]...)
			if l.rr > i {
				l.rr--
			}
			break
		}
	}
	if !l.busy() {
		select {
		case l.idle <- struct{}{}:
		default:
		}
	}
}

// complete records the cache's answer to x's commit (or an earlier error);
// l.mu held.
func (l *link) complete(x *xfer, err error) {
	if x.done {
		return
	}
	x.done = true
	x.err = err
	l.dropData(x)
	l.remove(x)
	if x.aborted {
		return // already counted
	}
	ss := l.snap(x.snap)
	ss.pending--
	if err != nil {
		ss.errs[x.name] = err
		l.log.Warn().Str("snapshot", x.snap).Str("img", x.name).Err(err).Msg("image failed")
	} else {
		ss.committed[x.name] = remoteimg.ImageInfo{Name: x.name, Size: x.received, CRC: x.crc}
		l.log.Debug().Str("snapshot", x.snap).Str("img", x.name).Uint64("size", x.received).Msg("image acknowledged by cache")
	}
	notify(&ss.changed)
}

// finish waits for every transfer of the snapshot, then for the cache's
// answer to the manifest.
func (l *link) finish(ctx context.Context, m *remoteimg.Finish) error {
	l.mu.Lock()
	ss := l.snap(m.Snapshot)
	for ss.pending > 0 {
		ch := ss.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		l.mu.Lock()
	}
	for _, im := range m.Images {
		if err := ss.errs[im.Name]; err != nil {
			l.mu.Unlock()
			return fmt.Errorf("image %s: %w", im.Name, err)
		}
		if got, ok := ss.committed[im.Name]; !ok {
			l.mu.Unlock()
			return fmt.Errorf("image %s: %w: never reached this proxy", im.Name, remoteimg.ErrIncomplete)
		} else if got != im {
			l.mu.Unlock()
			return fmt.Errorf("image %s: %w: manifest entry differs from what was sent", im.Name, remoteimg.ErrIncomplete)
		}
	}
	fr := &finishReq{id: l.id(), msg: m, done: make(chan struct{})}
	l.finishes[fr.id] = fr
	l.wake()
	l.mu.Unlock()
	select {
	case <-fr.done:
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.finishes, fr.id)
		l.mu.Unlock()
		return ctx.Err()
	}
	if fr.err == nil {
		l.mu.Lock()
		if l.snaps[m.Snapshot] == ss && ss.pending == 0 {
			delete(l.snaps, m.Snapshot)
		}
		l.mu.Unlock()
	}
	return fr.err
}

// confirm relays the dump's Confirm of a snapshot whose Finish the cache
// acknowledged, and waits for the cache's answer.
func (l *link) confirm(ctx context.Context, m *remoteimg.Confirm) error {
	l.mu.Lock()
	fr := &finishReq{id: l.id(), msg: m, done: make(chan struct{})}
	l.finishes[fr.id] = fr
	l.wake()
	l.mu.Unlock()
	select {
	case <-fr.done:
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.finishes, fr.id)
		l.mu.Unlock()
		return ctx.Err()
	}
	return fr.err
}

func (l *link) finishDone(fr *finishReq, err error) {
	if _, ok := l.finishes[fr.id]; !ok {
		return
	}
	delete(l.finishes, fr.id)
	fr.err = err
	close(fr.done)
	if !l.busy() {
		select {
		case l.idle <- struct{}{}:
		default:
		}
	}
}

// failAll fails everything pending (the cache stayed unreachable).
func (l *link) failAll(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range append([]*xfer(nil), l.order...) {
		if x.aborted {
			l.remove(x)
			continue
		}
		l.complete(x, err)
	}
	for _, fr := range l.finishes {
		l.finishDone(fr, err)
	}
}

// run keeps a connection to the cache while there is work, until ctx ends.
func (l *link) run(ctx context.Context) {
	var downSince time.Time
	backoff := 20 * time.Millisecond
	for {
		l.mu.Lock()
		busy := l.busy()
		l.mu.Unlock()
		if !busy {
			downSince = time.Time{}
			select {
			case <-l.kick:
				continue
			case <-ctx.Done():
				return
			}
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		nc, err := l.dial(dctx)
		var rc *remoteimg.Conn
		if err == nil {
			rc, err = remoteimg.ClientHandshake(dctx, nc, remoteimg.RoleProxy)
			if err != nil {
				nc.Close()
			}
		}
		cancel()
		if ctx.Err() != nil {
			if rc != nil {
				rc.Close()
			}
			return
		}
		if err != nil {
			if downSince.IsZero() {
				downSince = time.Now()
			}
			if permanent(err) {
				// A certificate or protocol refusal does not heal by
				// retrying for the reconnect timeout.
				l.log.Error().Err(err).Msg("image cache refuses this proxy (permanent error), failing pending images")
				l.failAll(fmt.Errorf("%w: image cache: %w", remoteimg.ErrUnavailable, err))
				downSince = time.Time{}
				continue
			}
			if time.Since(downSince) > l.reconnect {
				l.log.Error().Err(err).Dur("down", time.Since(downSince)).Msg("image cache unreachable, failing pending images")
				l.failAll(fmt.Errorf("%w: image cache: %w", remoteimg.ErrUnavailable, err))
				downSince = time.Time{}
				continue
			}
			l.log.Warn().Err(err).Dur("retry", backoff).Msg("cannot reach image cache")
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 20 * time.Millisecond
		downSince = time.Time{}
		l.log.Info().Str("cache", nc.RemoteAddr().String()).Msg("connected to image cache")
		err = l.session(ctx, rc)
		rc.Close()
		if ctx.Err() != nil {
			return
		}
		downSince = time.Now()
		l.log.Warn().Err(err).Msg("connection to image cache lost, reconnecting")
	}
}

// session runs one connection: a sender goroutine and the ack reader.
func (l *link) session(ctx context.Context, rc *remoteimg.Conn) error {
	l.mu.Lock()
	for _, x := range l.order {
		x.opened, x.commitSent = false, false
		x.sent = x.acked
	}
	for _, fr := range l.finishes {
		fr.sent = false
	}
	l.connected = true
	l.lastRecv = time.Now()
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.connected = false
		l.mu.Unlock()
	}()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(sctx, func() { rc.Close() })
	defer stop()
	sendErr := make(chan error, 1)
	go func() { sendErr <- l.sender(sctx, rc); cancel() }()
	dead := make(chan error, 1)
	go l.watch(sctx, rc, dead)
	err := l.receiver(rc)
	cancel()
	select {
	case derr := <-dead:
		err = derr
	default:
	}
	if serr := <-sendErr; err == nil || errors.Is(err, net.ErrClosed) {
		if serr != nil && !errors.Is(serr, context.Canceled) {
			err = serr
		}
	}
	return err
}

// progressEvery is how often a busy link logs its progress.
const progressEvery = 5 * time.Second

// watch is a session's watchdog: it drops the connection when a Finish
// or Confirm was sent replyWait ago and the cache has sent nothing since
// (the kernel's TCP_USER_TIMEOUT and keepalives catch a dead peer with
// data in flight or an idle link; this catches a peer that stopped
// answering), and logs the transfer's progress and throughput.
func (l *link) watch(ctx context.Context, rc *remoteimg.Conn, dead chan<- error) {
	tick := time.NewTicker(min(time.Second, l.replyWait/4))
	defer tick.Stop()
	last, lastAcked := time.Now(), uint64(0)
	l.mu.Lock()
	lastAcked = l.acked
	l.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		l.mu.Lock()
		silent := now.Sub(l.lastRecv)
		var waiting time.Duration
		for _, fr := range l.finishes {
			if fr.sent {
				waiting = max(waiting, now.Sub(fr.sentAt))
			}
		}
		acked, inFlight, held := l.acked, len(l.order), l.memUsed
		l.mu.Unlock()
		if waiting > l.replyWait && silent > l.replyWait {
			err := fmt.Errorf("%w: image cache silent for %v while a reply is due", remoteimg.ErrUnavailable, silent.Round(time.Millisecond))
			dead <- err
			rc.Close()
			return
		}
		if d := now.Sub(last); d >= progressEvery {
			if inFlight > 0 || acked != lastAcked {
				l.log.Info().Uint64("acked_mib", (acked-lastAcked)>>20).
					Float64("mib_per_s", float64(acked-lastAcked)/(1<<20)/d.Seconds()).
					Int("images_in_flight", inFlight).Int64("held_mib", held>>20).
					Dur("cache_silent", silent.Round(time.Millisecond)).Msg("forwarding to the image cache")
			}
			last, lastAcked = now, acked
		}
	}
}

// sender writes Put/Data/Commit/Abort/Finish frames, round-robin over the
// transfers so that many images are in flight at once.
func (l *link) sender(ctx context.Context, rc *remoteimg.Conn) error {
	for {
		l.mu.Lock()
		send := l.next()
		l.mu.Unlock()
		if send == nil {
			select {
			case <-l.kick:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := send(rc); err != nil {
			return err
		}
	}
}

// next picks the next frame to send and updates state as if sent; l.mu
// held. nil: nothing to send.
func (l *link) next() func(*remoteimg.Conn) error {
	n := len(l.order)
	for i := 0; i < n; i++ {
		idx := (l.rr + i) % n
		x := l.order[idx]
		if x.aborted {
			l.remove(x)
			if x.everOpened {
				return func(rc *remoteimg.Conn) error { return rc.W.WriteMsg(x.id, &remoteimg.Abort{}) }
			}
			return func(*remoteimg.Conn) error { return nil }
		}
		if !x.opened {
			x.opened, x.everOpened = true, true
			put := &remoteimg.Put{Snapshot: x.snap, Parent: x.parent, Name: x.name}
			l.rr = idx
			return func(rc *remoteimg.Conn) error { return rc.W.WriteMsg(x.id, put) }
		}
		if x.sent < x.received {
			for _, c := range x.chunks {
				if end := c.off + uint64(len(c.b)); x.sent >= c.off && x.sent < end {
					b := c.b[x.sent-c.off:]
					off := x.sent
					x.sent = end
					l.rr = idx + 1
					l.sending = c.buf
					return func(rc *remoteimg.Conn) error {
						err := rc.W.WriteData(x.id, off, b)
						l.mu.Lock()
						if l.sendingFreed {
							framePool.Put(l.sending)
						}
						l.sending, l.sendingFreed = nil, false
						l.mu.Unlock()
						return err
					}
				}
			}
			// Acked past sent (the cache had it already).
			x.sent = x.received
		}
		if x.committed && !x.commitSent && x.sent >= x.received {
			x.commitSent = true
			cm := &remoteimg.Commit{Size: x.received, CRC: x.crc}
			l.rr = idx + 1
			return func(rc *remoteimg.Conn) error { return rc.W.WriteMsg(x.id, cm) }
		}
	}
	for _, fr := range l.finishes {
		if !fr.sent {
			fr.sent, fr.sentAt = true, time.Now()
			m := fr.msg
			return func(rc *remoteimg.Conn) error { return rc.W.WriteMsg(fr.id, m) }
		}
	}
	return nil
}

// receiver reads Acks and Results until the connection fails.
func (l *link) receiver(rc *remoteimg.Conn) error {
	for {
		stream, m, err := rc.ReadMsg()
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.lastRecv = time.Now()
		switch m := m.(type) {
		case *remoteimg.Ack:
			if x := l.xfers[stream]; x != nil && m.Offset > x.acked {
				off := min(m.Offset, x.received)
				l.acked += off - x.acked
				x.acked = off
				var freed int64
				k := 0
				for k < len(x.chunks) && x.chunks[k].off+uint64(len(x.chunks[k].b)) <= off {
					freed += x.chunks[k].charge
					l.releaseLocked(x.chunks[k])
					x.chunks[k] = chunk{}
					k++
				}
				x.chunks = x.chunks[k:]
				if x.sent < off {
					x.sent = off
				}
				l.freeLocked(freed)
			}
		case *remoteimg.Result:
			if x := l.xfers[stream]; x != nil {
				if x.aborted {
					l.remove(x)
				} else if err := remoteimg.ResultError(*m); err != nil || x.commitSent {
					l.complete(x, err)
				} else {
					l.mu.Unlock()
					return fmt.Errorf("%w: ok result for transfer %x before its commit", remoteimg.ErrProtocol, stream)
				}
			} else if fr := l.finishes[stream]; fr != nil {
				l.finishDone(fr, remoteimg.ResultError(*m))
			}
		default:
			l.mu.Unlock()
			return fmt.Errorf("%w: %s from the cache", remoteimg.ErrProtocol, m.Type())
		}
		l.mu.Unlock()
		l.wake()
	}
}
