package imgcache

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/criugo/criu/imgcache/limits"
	"github.com/criugo/criu/internal/daemon"
	"github.com/criugo/criu/remoteimg"
	"github.com/rs/zerolog"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("imgcache: server closed")

// Server is the image cache. Set its fields, then call Serve for each
// listener (the TCP one for proxies, wrapped in TLS by the caller; the
// UNIX one for restore). A UNIX listener serves readers and proxies of
// the same host; a TCP listener serves proxies, and readers that may Get
// and List but not Release (a proxy relaying dump's reads of a parent
// snapshot).
type Server struct {
	// Dir keeps snapshots on disk (survives restarts); "" keeps them in
	// memory.
	Dir string
	// MaxMemory bounds image bytes held in memory (no Dir). Default 1 GiB.
	MaxMemory int64
	// Keep keeps snapshots after Release.
	Keep bool
	// ResumeTimeout is how long transfers of a snapshot whose proxy went
	// away wait to be resumed before they fail. Default 30s.
	ResumeTimeout time.Duration
	Log           zerolog.Logger
	// MaxConnsPerPeer and MaxReadersPerPeer cap the connections, and
	// the reader connections, of one TCP peer host (default
	// DefaultMaxConnsPerPeer, DefaultMaxReadersPerPeer). IdleTimeout
	// drops a TCP connection without a client certificate that has had
	// nothing in flight for that long (default DefaultIdleTimeout).
	MaxConnsPerPeer, MaxReadersPerPeer int
	IdleTimeout                        time.Duration
	// MaxConns caps the TCP connections of all peers together (default
	// DefaultMaxConns).
	MaxConns int

	initOnce sync.Once
	initErr  error
	st       *store

	conns    daemon.ConnSet
	done     chan struct{} // closed by a forced Shutdown; stops waits
	doneOnce sync.Once
	nextID   atomic.Uint64
	peers    limits.Peers    // TCP connections by peer host
	bufs     *limits.Buffers // connection buffers against their share of MaxMemory
}

func (srv *Server) init() error {
	srv.initOnce.Do(func() {
		if srv.MaxMemory <= 0 {
			srv.MaxMemory = 1 << 30
		}
		if srv.ResumeTimeout <= 0 {
			srv.ResumeTimeout = 30 * time.Second
		}
		if srv.MaxConnsPerPeer <= 0 {
			srv.MaxConnsPerPeer = DefaultMaxConnsPerPeer
		}
		if srv.MaxReadersPerPeer <= 0 {
			srv.MaxReadersPerPeer = DefaultMaxReadersPerPeer
		}
		if srv.IdleTimeout <= 0 {
			srv.IdleTimeout = DefaultIdleTimeout
		}
		if srv.MaxConns <= 0 {
			srv.MaxConns = DefaultMaxConns
		}
		srv.peers.MaxConnsPerPeer, srv.peers.MaxReadersPerPeer, srv.peers.MaxConns = srv.MaxConnsPerPeer, srv.MaxReadersPerPeer, srv.MaxConns
		srv.conns.Closed, srv.conns.Log = ErrServerClosed, srv.Log
		srv.done = make(chan struct{})
		srv.bufs = limits.NewBuffers(srv.Dir, srv.MaxMemory)
		imageMem := srv.MaxMemory
		if srv.Dir == "" {
			imageMem -= srv.bufs.Share()
		}
		srv.st, srv.initErr = newStore(srv.Dir, imageMem, srv.Keep, srv.ResumeTimeout, srv.Log)
		if srv.initErr == nil && srv.Dir == "" {
			srv.Log.Warn().Int64("max_memory", srv.MaxMemory).Msg("no -D: snapshots are held in memory only; " +
				"every snapshot not yet restored is lost when this cache exits (signal, crash, restart)")
		}
	})
	return srv.initErr
}

// Init loads the kept snapshots (with Dir) now rather than at the first
// Serve; the daemon calls it before reporting readiness.
func (srv *Server) Init() error { return srv.init() }

// Serve accepts connections on ln until Shutdown, each handled on its own
// goroutine. It returns ErrServerClosed after Shutdown.
func (srv *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := srv.init(); err != nil {
		return err
	}
	_, local := ln.Addr().(*net.UnixAddr)
	return srv.conns.Serve(ln, func(nc net.Conn) (daemon.Tracked, func()) {
		c := &conn{srv: srv, nc: nc, id: srv.nextID.Add(1), local: local}
		c.log = srv.Log.With().Uint64("conn", c.id).Str("peer", nc.RemoteAddr().String()).Logger()
		return c, func() { c.serve(ctx) }
	})
}

// Shutdown stops accepting, closes idle connections, and waits for
// in-flight transfers and reads to end; when ctx ends first it closes
// every connection and returns ctx's error.
func (srv *Server) Shutdown(ctx context.Context) error {
	if err := srv.init(); err != nil {
		return err
	}
	srv.st.setDraining()
	srv.conns.Drain()
	done := make(chan struct{})
	go func() { srv.conns.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		srv.doneOnce.Do(func() { close(srv.done) })
		srv.conns.CloseAll()
		<-done
	}
	srv.st.close()
	return err
}

// conn is one accepted connection.
type conn struct {
	srv   *Server
	nc    net.Conn
	id    uint64
	local bool
	log   zerolog.Logger

	mu     sync.Mutex // protects active and snaps; taken before store.mu (lock order: see store.mu)
	active int        // transfers or reads in flight
	// snaps are the snapshots this proxy connection wrote to: while one
	// is unfinished, its Finish may still come on this connection, so a
	// drain does not close it (a snapshot on disk is finished; one in
	// memory gets its refusal).
	snaps map[*snapshot]bool
	seen  atomic.Int64 // time of the last frame (UnixNano), for idleWatch
	// wbuf: the frame writer's copy buffer is charged (a TLS reader:
	// without writev, Data is copied into it, and it is kept).
	wbuf bool
}

// idleLocked reports whether nothing is in flight on c; c.mu held.
func (c *conn) idleLocked() bool {
	return c.active == 0 && !c.srv.st.anyOpen(c.snaps)
}

func (c *conn) setActive(d int) {
	c.mu.Lock()
	c.active += d
	idle := c.idleLocked()
	c.mu.Unlock()
	if idle && c.srv.conns.Closing() {
		c.nc.Close()
	}
}

// wrote records that the proxy connection c wrote to s.
func (c *conn) wrote(s *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snaps == nil {
		c.snaps = map[*snapshot]bool{}
	}
	if !c.snaps[s] && len(c.snaps) >= 64 {
		for o := range c.snaps {
			if !c.srv.st.anyOpen(map[*snapshot]bool{o: true}) {
				delete(c.snaps, o)
			}
		}
	}
	c.snaps[s] = true
}

// Close closes the connection (daemon.Tracked).
func (c *conn) Close() error { return c.nc.Close() }

// CloseIfIdle closes the connection if no transfer or read is in flight
// (daemon.Tracked).
func (c *conn) CloseIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idleLocked() {
		c.nc.Close()
	}
}

func (c *conn) serve(ctx context.Context) {
	defer c.nc.Close()
	// Stop blocking waits when the server is force-closed.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.srv.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := daemon.CheckPeer(c.nc); err != nil {
		c.log.Warn().Err(err).Msg("connection refused")
		return
	}
	peer := limits.Key(c.nc)
	if err := c.srv.peers.Admit(peer); err != nil {
		c.log.Warn().Err(err).Msg("connection refused")
		c.srv.peers.Refuse(c.nc, err)
		return
	}
	defer c.srv.peers.Leave(peer)
	// The connection's buffers are charged before the handshake
	// allocates them; one that does not fit is refused, never waits.
	tcp := peer != ""
	charge := int64(connCharge)
	if _, ok := c.nc.(*tls.Conn); ok {
		charge += tlsCharge
	}
	if err := c.srv.bufs.Charge(tcp, charge, limits.ForConn); err != nil {
		c.log.Warn().Err(err).Msg("connection refused")
		c.srv.peers.Refuse(c.nc, err)
		return
	}
	defer c.srv.bufs.Uncharge(charge, limits.ForConn)
	defer func() {
		if c.wbuf {
			c.srv.bufs.Uncharge(remoteimg.MaxPayload, limits.ForRead)
		}
	}()
	// A reader over TCP is a proxy relaying criu dump's reads of a
	// parent snapshot: it may Get and List, not Release.
	roles := []remoteimg.Role{remoteimg.RoleProxy, remoteimg.RoleReader}
	rc, err := remoteimg.ServerHandshake(ctx, c.nc, roles...)
	if err != nil {
		c.log.Warn().Err(err).Msg("handshake failed, disconnecting")
		return
	}
	c.log = c.log.With().Stringer("role", rc.Peer).Logger()
	c.log.Debug().Msg("connected")
	if peer != "" && !authenticated(c.nc) {
		c.saw()
		done := make(chan struct{})
		defer close(done)
		go c.idleWatch(done)
	}
	if rc.Peer == remoteimg.RoleReader {
		if !c.srv.peers.Reader(peer, 1) {
			err := fmt.Errorf("%w: too many readers from this peer (cap %d)", remoteimg.ErrPermission, c.srv.MaxReadersPerPeer)
			c.log.Warn().Err(err).Msg("reader refused")
			_ = reply(rc, 0, err)
			return
		}
		defer c.srv.peers.Reader(peer, -1)
	}
	switch rc.Peer {
	case remoteimg.RoleProxy:
		err = c.serveProxy(ctx, rc, tcp)
	case remoteimg.RoleReader:
		err = c.serveReader(ctx, rc)
	}
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed) && c.srv.conns.Closing():
		c.log.Debug().Msg("disconnected")
	default:
		c.log.Warn().Err(err).Msg("disconnected")
	}
}

func reply(rc *remoteimg.Conn, stream uint64, err error) error {
	r := remoteimg.ErrorResult(err)
	return rc.W.WriteMsg(stream, &r)
}

// serveProxy handles a proxy: transfers multiplexed by stream id.
func (c *conn) serveProxy(ctx context.Context, rc *remoteimg.Conn, tcp bool) error {
	st := c.srv.st
	xfers := map[uint64]*image{}
	var bg sync.WaitGroup
	acks := newAcker(rc)
	defer func() {
		// The connection is gone: in-flight commits finish on their own;
		// snapshots wait for a resuming proxy.
		bg.Wait()
		acks.stop()
		c.mu.Lock()
		c.active = 0
		c.mu.Unlock()
	}()
	// Frames are read into a small buffer (part of connCharge), and
	// those that do not fit (Data on disk, a large Finish) into one
	// frame buffer, charged (proxyFrameCharge) and allocated when the
	// first such frame comes and kept while the connection lives: with a
	// directory, Data is written to its file before the next frame is
	// read; in memory, Data payloads are read straight into their
	// storage, and the other frames are decoded (copied out) before the
	// next one. A frame buffer that does not fit the budget fails that
	// frame's transfer at once (ErrNoSpace); nothing waits for memory.
	small := make([]byte, smallFrame)
	var big []byte
	defer func() {
		if big != nil {
			c.srv.bufs.Uncharge(proxyFrameCharge, limits.ForFrame)
		}
	}()
	for {
		t, stream, n, err := remoteimg.ReadHeader(rc.R, remoteimg.MaxPayload)
		if err != nil {
			return err
		}
		c.saw()
		if t == remoteimg.TData && xfers[stream] == nil {
			// A transfer already failed and reported: its data is
			// dropped unread.
			if _, err := io.CopyN(io.Discard, rc.R, int64(n)); err != nil {
				return unexpectedEOF(err)
			}
			continue
		}
		buf := small
		if n > len(small) && !(t == remoteimg.TData && st.dir == "" && n >= 8) {
			if big == nil {
				if err := c.srv.bufs.Charge(tcp, proxyFrameCharge, limits.ForFrame); err != nil {
					c.log.Warn().Err(err).Stringer("frame", t).Msg("no memory for a frame buffer")
					if _, derr := io.CopyN(io.Discard, rc.R, int64(n)); derr != nil {
						return unexpectedEOF(derr)
					}
					if img := xfers[stream]; img != nil {
						delete(xfers, stream)
						st.abort(img)
						c.setActive(-1)
					}
					if err := reply(rc, stream, err); err != nil {
						return err
					}
					continue
				}
				big = make([]byte, remoteimg.MaxPayload)
			}
			buf = big
		}
		if img := xfers[stream]; t == remoteimg.TData && img != nil && st.dir == "" && n >= 8 {
			// Memory mode: the payload goes straight into its storage.
			var ob [8]byte
			if _, err := io.ReadFull(rc.R, ob[:]); err != nil {
				return unexpectedEOF(err)
			}
			off, size := binary.LittleEndian.Uint64(ob[:]), n-8
			if size > remoteimg.MaxChunk || off+uint64(size) < off {
				err := fmt.Errorf("%w: data chunk %d bytes at offset %d", remoteimg.ErrProtocol, size, off)
				_ = reply(rc, stream, err)
				return err
			}
			stored, ioErr, err := st.writeFrom(ctx, img, off, size, func(b []byte) error {
				_, err := io.ReadFull(rc.R, b)
				return unexpectedEOF(err)
			})
			if ioErr != nil {
				return ioErr
			}
			if err != nil {
				delete(xfers, stream)
				c.setActive(-1)
				if err := reply(rc, stream, err); err != nil {
					return err
				}
				continue
			}
			acks.ack(stream, stored)
			continue
		}
		f, err := remoteimg.ReadPayload(rc.R, t, stream, n, buf)
		if err != nil {
			return unexpectedEOF(err)
		}
		m, err := remoteimg.Decode(f)
		if err != nil {
			_ = reply(rc, f.Stream, err)
			return err
		}
		switch m := m.(type) {
		case *remoteimg.Put:
			if xfers[f.Stream] != nil {
				return fmt.Errorf("%w: Put for transfer %x already open", remoteimg.ErrProtocol, f.Stream)
			}
			img, s, err := st.put(f.Stream, m)
			if err != nil {
				c.log.Warn().Err(err).Str("snapshot", m.Snapshot).Str("img", m.Name).Msg("put refused")
				if err := reply(rc, f.Stream, err); err != nil {
					return err
				}
				continue
			}
			xfers[f.Stream] = img
			c.wrote(s)
			c.setActive(1)
			st.mu.Lock()
			have := img.length
			st.mu.Unlock()
			acks.ack(f.Stream, have)
			c.log.Debug().Str("snapshot", m.Snapshot).Str("img", m.Name).Uint64("xfer", f.Stream).Uint64("have", have).Msg("put")
		case *remoteimg.Data:
			img := xfers[f.Stream]
			if img == nil {
				// Already failed and reported; ignore the rest.
				continue
			}
			n, err := st.write(ctx, img, m.Offset, m.Bytes)
			if err != nil {
				delete(xfers, f.Stream)
				c.setActive(-1)
				if err := reply(rc, f.Stream, err); err != nil {
					return err
				}
				continue
			}
			acks.ack(f.Stream, n)
		case *remoteimg.Commit:
			img := xfers[f.Stream]
			if img == nil {
				continue
			}
			delete(xfers, f.Stream)
			bg.Add(1)
			go func(stream uint64, m *remoteimg.Commit) {
				defer bg.Done()
				defer c.setActive(-1)
				err := st.commit(img, m.Size, m.CRC)
				acks.flush()
				if err != nil {
					c.log.Warn().Err(err).Msg("commit failed")
				}
				_ = reply(rc, stream, err)
			}(f.Stream, m)
		case *remoteimg.Abort:
			if img := xfers[f.Stream]; img != nil {
				delete(xfers, f.Stream)
				st.abort(img)
				c.setActive(-1)
			}
		case *remoteimg.Finish:
			c.setActive(1)
			bg.Add(1)
			go func(stream uint64, m *remoteimg.Finish) {
				defer bg.Done()
				defer c.setActive(-1)
				err := st.finish(m)
				if err != nil {
					c.log.Warn().Err(err).Str("snapshot", m.Snapshot).Msg("finish refused")
				}
				_ = reply(rc, stream, err)
			}(f.Stream, m)
		case *remoteimg.Confirm:
			err := st.confirm(f.Stream, m)
			if err != nil {
				c.log.Warn().Err(err).Str("snapshot", m.Snapshot).Msg("confirm refused")
			}
			if err := reply(rc, f.Stream, err); err != nil {
				return err
			}
		default:
			err := fmt.Errorf("%w: %s from a proxy", remoteimg.ErrProtocol, m.Type())
			_ = reply(rc, f.Stream, err)
			return err
		}
	}
}

// unexpectedEOF turns io.EOF inside a frame into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// acker sends Acks, coalescing those of one transfer.
type acker struct {
	rc      *remoteimg.Conn
	mu      sync.Mutex
	pending map[uint64]uint64
	kick    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	flushed *sync.Cond
	busy    bool
}

func newAcker(rc *remoteimg.Conn) *acker {
	a := &acker{rc: rc, pending: map[uint64]uint64{}, kick: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	a.flushed = sync.NewCond(&a.mu)
	go a.loop()
	return a
}

func (a *acker) ack(stream, off uint64) {
	a.mu.Lock()
	if off > a.pending[stream] {
		a.pending[stream] = off
	}
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// flush waits until pending acks are written.
func (a *acker) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.pending) > 0 || a.busy {
		select {
		case <-a.done:
			return
		default:
		}
		a.flushed.Wait()
	}
}

func (a *acker) loop() {
	defer func() {
		a.mu.Lock()
		close(a.done)
		a.flushed.Broadcast()
		a.mu.Unlock()
	}()
	for {
		select {
		case <-a.kick:
		case <-a.quit:
			return
		}
		a.mu.Lock()
		p := a.pending
		a.pending = map[uint64]uint64{}
		a.busy = true
		a.mu.Unlock()
		var err error
		for s, off := range p {
			if err = a.rc.W.WriteMsg(s, &remoteimg.Ack{Offset: off}); err != nil {
				break
			}
		}
		a.mu.Lock()
		a.busy = false
		a.flushed.Broadcast()
		a.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (a *acker) stop() {
	close(a.quit)
	<-a.done
}

// serveReader handles restore: Get, Release, List, one at a time.
func (c *conn) serveReader(ctx context.Context, rc *remoteimg.Conn) error {
	st := c.srv.st
	// A goroutine reads frames so that a reader hanging up is noticed
	// while we wait for an image to arrive.
	frames := make(chan remoteimg.Frame)
	rerr := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			f, err := remoteimg.ReadFrame(rc.R, maxReaderFrame)
			if err != nil {
				rerr <- err
				cancel()
				return
			}
			select {
			case frames <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		var f remoteimg.Frame
		select {
		case f = <-frames:
		case err := <-rerr:
			return err
		}
		c.saw()
		m, err := remoteimg.Decode(f)
		if err != nil {
			_ = reply(rc, f.Stream, err)
			return err
		}
		switch m := m.(type) {
		case *remoteimg.Get:
			c.setActive(1)
			err := c.streamImage(ctx, rc, f.Stream, m)
			c.setActive(-1)
			if err != nil {
				return err
			}
		case *remoteimg.Release:
			err := error(nil)
			if !c.local {
				err = fmt.Errorf("%w: release over TCP (only restore, on the cache's host, releases)", remoteimg.ErrPermission)
			} else {
				err = st.release(m.Snapshot)
			}
			if err := reply(rc, f.Stream, err); err != nil {
				return err
			}
		case *remoteimg.List:
			if err := rc.W.WriteMsg(f.Stream, &remoteimg.ListReply{Snapshots: st.list()}); err != nil {
				return err
			}
		default:
			err := fmt.Errorf("%w: %s from a reader", remoteimg.ErrProtocol, m.Type())
			_ = reply(rc, f.Stream, err)
			return err
		}
	}
}

// streamImage answers a Get: Result, then Data as it arrives, then End (or
// a Result with the image's error). An error return ends the connection.
func (c *conn) streamImage(ctx context.Context, rc *remoteimg.Conn, stream uint64, m *remoteimg.Get) error {
	st := c.srv.st
	img, err := st.get(ctx, m.Snapshot, m.Name, time.Duration(m.WaitMillis)*time.Millisecond)
	if err != nil {
		c.log.Debug().Err(err).Str("snapshot", m.Snapshot).Str("img", m.Name).Msg("get")
		return reply(rc, stream, err)
	}
	defer st.unref(img)
	// A complete image on disk is checked whole against its committed
	// CRC before its first byte goes out: restore reads only the bytes
	// it needs and may never reach End.
	if err := st.verify(img); err != nil {
		c.log.Error().Err(err).Str("snapshot", m.Snapshot).Str("img", m.Name).Msg("image corrupt on disk, not served")
		return reply(rc, stream, err)
	}
	if err := reply(rc, stream, nil); err != nil {
		return err
	}
	start := time.Now()
	// The buffer for an image in a file is charged when there are bytes
	// to read (not while waiting for them), and a read that does not
	// fit fails at once (ErrNoSpace) rather than wait.
	charged := false
	defer func() {
		if charged {
			c.srv.bufs.Uncharge(readBufCharge, limits.ForRead)
		}
	}()
	cur := cursor{alloc: func() error {
		if err := c.srv.bufs.Charge(!c.local, readBufCharge, limits.ForRead); err != nil {
			return err
		}
		charged = true
		return nil
	}}
	var sent uint32 // CRC of what went out
	for {
		b, end, size, crc, err := st.read(ctx, img, &cur)
		if err == nil && end && sent != crc {
			err = fmt.Errorf("image %s of snapshot %s: %w: the bytes served (crc %08x) are not those committed (crc %08x)",
				m.Name, m.Snapshot, remoteimg.ErrCorrupt, sent, crc)
		}
		if err != nil {
			c.log.Warn().Err(err).Str("snapshot", m.Snapshot).Str("img", m.Name).Msg("read ended in error")
			return reply(rc, stream, err)
		}
		sent = crc32.Update(sent, remoteimg.Castagnoli(), b)
		if end {
			c.log.Debug().Str("snapshot", m.Snapshot).Str("img", m.Name).Uint64("size", size).
				Dur("took", time.Since(start)).Msg("image served")
			return rc.W.WriteMsg(stream, &remoteimg.End{Size: size, CRC: crc})
		}
		if _, isTLS := c.nc.(*tls.Conn); isTLS && !c.wbuf && len(b) > 0 {
			if err := c.srv.bufs.Charge(!c.local, remoteimg.MaxPayload, limits.ForRead); err != nil {
				return reply(rc, stream, fmt.Errorf("image %s: %w", m.Name, err))
			}
			c.wbuf = true
		}
		for len(b) > 0 {
			k := min(len(b), remoteimg.MaxChunk)
			if err := rc.W.WriteData(stream, cur.off-uint64(len(b)), b[:k]); err != nil {
				return err
			}
			b = b[k:]
		}
	}
}
