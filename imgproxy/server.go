package imgproxy

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/criugo/criu/internal/daemon"
	"github.com/criugo/criu/remoteimg"
	"github.com/rs/zerolog"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("imgproxy: server closed")

// Server is the image proxy. Set its fields, then Serve the local UNIX
// listener that criu dump connects to.
type Server struct {
	// Dial connects to the image cache (TCP, wrapped in TLS by the
	// caller when configured). Required.
	Dial func(ctx context.Context) (net.Conn, error)
	// MaxMemory bounds the image bytes held until the cache acknowledges
	// them. Default 256 MiB.
	MaxMemory int64
	// ReconnectTimeout is how long the proxy keeps redialing a lost cache
	// before failing the pending images. Default 30s.
	ReconnectTimeout time.Duration
	// ReplyTimeout is how long a Finish or Confirm sent to the cache may
	// go unanswered while the cache sends nothing at all, before the
	// connection counts as dead (and is redialed). Default
	// daemon.LinkTimeout. Dial should give connections that detect a
	// dead peer themselves (daemon.TCPDialer).
	ReplyTimeout time.Duration
	Log          zerolog.Logger

	initOnce sync.Once
	link     *link
	linkStop context.CancelFunc
	linkDone chan struct{}

	conns  daemon.ConnSet
	nextID atomic.Uint64
}

func (srv *Server) init() {
	srv.initOnce.Do(func() {
		if srv.MaxMemory <= 0 {
			srv.MaxMemory = 256 << 20
		}
		if srv.ReconnectTimeout <= 0 {
			srv.ReconnectTimeout = 30 * time.Second
		}
		if srv.ReplyTimeout <= 0 {
			srv.ReplyTimeout = daemon.LinkTimeout
		}
		srv.conns.Closed, srv.conns.Log = ErrServerClosed, srv.Log
		srv.link = newLink(srv.Dial, srv.MaxMemory, srv.ReconnectTimeout, srv.ReplyTimeout, srv.Log)
		ctx, cancel := context.WithCancel(context.Background())
		srv.linkStop = cancel
		srv.linkDone = make(chan struct{})
		go func() { defer close(srv.linkDone); srv.link.run(ctx) }()
	})
}

// Serve accepts writer connections on ln until Shutdown.
func (srv *Server) Serve(ctx context.Context, ln net.Listener) error {
	if srv.Dial == nil {
		return errors.New("imgproxy: Server.Dial is nil")
	}
	srv.init()
	return srv.conns.Serve(ln, func(nc net.Conn) (daemon.Tracked, func()) {
		c := &conn{srv: srv, nc: nc, id: srv.nextID.Add(1)}
		c.log = srv.Log.With().Uint64("conn", c.id).Logger()
		return c, func() { c.serve(ctx) }
	})
}

// Shutdown stops accepting, lets writers mid-image finish, waits until
// the cache has acknowledged everything pending, then stops the link. When
// ctx ends first, it closes everything and returns ctx's error.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.init()
	srv.conns.Drain()
	done := make(chan struct{})
	go func() {
		srv.conns.Wait()
		for {
			srv.link.mu.Lock()
			busy := srv.link.busy()
			srv.link.mu.Unlock()
			if !busy {
				break
			}
			select {
			case <-srv.link.idle:
			case <-time.After(100 * time.Millisecond):
			}
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		srv.conns.CloseAll()
		srv.link.failAll(remoteimg.ErrShutdown)
	}
	srv.linkStop()
	<-srv.linkDone
	return err
}

type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64
	log zerolog.Logger

	mu     sync.Mutex // protects active
	active bool       // an image or a finish in progress
}

func (c *conn) setActive(a bool) {
	c.mu.Lock()
	c.active = a
	c.mu.Unlock()
	if !a && c.srv.conns.Closing() {
		c.nc.Close()
	}
}

// Close closes the connection (daemon.Tracked).
func (c *conn) Close() error { return c.nc.Close() }

// CloseIfIdle closes the connection if no image or finish is in
// progress on it (daemon.Tracked).
func (c *conn) CloseIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		c.nc.Close()
	}
}

func reply(rc *remoteimg.Conn, stream uint64, err error) error {
	r := remoteimg.ErrorResult(err)
	return rc.W.WriteMsg(stream, &r)
}

func (c *conn) serve(ctx context.Context) {
	defer c.nc.Close()
	if err := daemon.CheckPeer(c.nc); err != nil {
		c.log.Warn().Err(err).Msg("connection refused")
		return
	}
	rc, err := remoteimg.ServerHandshake(ctx, c.nc, remoteimg.RoleWriter, remoteimg.RoleReader)
	if err != nil {
		c.log.Warn().Err(err).Msg("handshake failed, disconnecting")
		return
	}
	// The read buffer the handshake allocated counts against the budget
	// while the connection lives (a relay charges its other buffers).
	c.srv.link.reserve(connBufCharge)
	defer c.srv.link.unreserve(connBufCharge)
	if rc.Peer == remoteimg.RoleReader {
		err = c.serveRelay(ctx, rc)
	} else {
		err = c.serveWriter(ctx, rc)
	}
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed) && c.srv.conns.Closing():
		c.log.Debug().Msg("disconnected")
	default:
		c.log.Warn().Err(err).Msg("disconnected")
	}
}

// serveWriter handles criu dump: Put, Data..., Commit (or Abort), and
// Finish, one image at a time per connection.
func (c *conn) serveWriter(ctx context.Context, rc *remoteimg.Conn) error {
	l := c.srv.link
	var (
		cur    *xfer
		stream uint64
		off    uint64
		crc    uint32
		start  time.Time
	)
	defer func() {
		if cur != nil {
			c.log.Warn().Str("img", cur.name).Uint64("received", off).Msg("writer went away mid-image, aborting it")
			l.abort(cur)
		}
	}()
	// Every buffer counts against the memory budget: the connection's
	// read buffer while it lives (charged by serve), and each frame's
	// payload from before it is read (a writer waiting for budget holds
	// no frame) until the cache acknowledges it (Data) or it is decoded
	// (anything else).
	for {
		t, fstream, n, err := remoteimg.ReadHeader(rc.R, remoteimg.MaxPayload)
		if err != nil {
			return err
		}
		// A large Data payload goes into a pooled frame buffer that its
		// chunk keeps (no copy); anything else into its own allocation.
		var pooled *[]byte
		var buf []byte
		charge := int64(n)
		if t == remoteimg.TData && n >= remoteimg.MaxChunk/4 {
			pooled = getFrameBuf()
			buf, charge = *pooled, int64(cap(*pooled))
		}
		if err := l.acquire(ctx, int(charge)); err != nil {
			if pooled != nil {
				framePool.Put(pooled)
			}
			return err
		}
		f, err := remoteimg.ReadPayload(rc.R, t, fstream, n, buf)
		var m remoteimg.Msg
		if err == nil {
			m, err = remoteimg.Decode(f)
		}
		if _, data := m.(*remoteimg.Data); err != nil || !data {
			// Only a Data payload is kept (by its chunk).
			if pooled != nil {
				framePool.Put(pooled)
			}
			l.free(charge)
		}
		if err != nil {
			if f.Payload != nil {
				_ = reply(rc, f.Stream, err)
			}
			return err
		}
		switch m := m.(type) {
		case *remoteimg.Put:
			if cur != nil {
				err := fmt.Errorf("%w: Put while image %s is open", remoteimg.ErrProtocol, cur.name)
				_ = reply(rc, f.Stream, err)
				return err
			}
			if err := checkPut(m); err != nil {
				c.log.Warn().Err(err).Msg("put refused")
				if err := reply(rc, f.Stream, err); err != nil {
					return err
				}
				continue
			}
			c.setActive(true)
			cur, stream, off, crc, start = l.newXfer(m), f.Stream, 0, 0, time.Now()
			c.log.Debug().Str("snapshot", m.Snapshot).Str("img", m.Name).Msg("image started")
			if err := reply(rc, f.Stream, nil); err != nil {
				return err
			}
		case *remoteimg.Data:
			if cur == nil || f.Stream != stream || m.Offset != off {
				if pooled != nil {
					framePool.Put(pooled)
				}
				l.free(charge)
				err := fmt.Errorf("%w: unexpected data (stream %d offset %d)", remoteimg.ErrProtocol, f.Stream, m.Offset)
				_ = reply(rc, f.Stream, err)
				return err
			}
			// The chunk keeps the payload's buffer and its charge.
			c := chunk{b: m.Bytes, buf: pooled, charge: charge}
			if len(m.Bytes) == 0 {
				l.mu.Lock()
				l.releaseLocked(c)
				l.freeLocked(c.charge)
				l.mu.Unlock()
				continue
			}
			crc = crc32.Update(crc, remoteimg.Castagnoli(), c.b)
			off += uint64(len(c.b))
			_ = l.append(cur, c, crc) // a failure is reported at Commit
		case *remoteimg.Commit:
			if cur == nil || f.Stream != stream {
				err := fmt.Errorf("%w: commit without image", remoteimg.ErrProtocol)
				_ = reply(rc, f.Stream, err)
				return err
			}
			x := cur
			cur = nil
			var err error
			switch {
			case m.Size != off:
				err = fmt.Errorf("image %s: %w: %d bytes received, %d committed", x.name, remoteimg.ErrTruncated, off, m.Size)
			case m.CRC != crc:
				err = fmt.Errorf("image %s: %w", x.name, remoteimg.ErrCorrupt)
			}
			if err != nil {
				l.abort(x)
			} else {
				err = l.commit(x)
			}
			if err != nil {
				c.log.Warn().Err(err).Msg("commit refused")
			} else {
				c.log.Debug().Str("img", x.name).Uint64("size", off).Dur("took", time.Since(start)).Msg("image received")
			}
			// Reply first: a drain closes the connection once idle.
			rerr := reply(rc, f.Stream, err)
			c.setActive(false)
			if rerr != nil {
				return rerr
			}
		case *remoteimg.Abort:
			if cur != nil {
				l.abort(cur)
				cur = nil
				c.setActive(false)
			}
		case *remoteimg.Finish:
			if cur != nil {
				err := fmt.Errorf("%w: Finish while image %s is open", remoteimg.ErrProtocol, cur.name)
				_ = reply(rc, f.Stream, err)
				return err
			}
			c.setActive(true)
			err := checkFinish(m)
			if err == nil {
				start := time.Now()
				err = l.finish(ctx, m)
				if err == nil {
					c.log.Info().Str("snapshot", m.Snapshot).Int("images", len(m.Images)).
						Dur("wait", time.Since(start)).Msg("snapshot acknowledged by the cache")
				}
			}
			if err != nil {
				c.log.Error().Err(err).Str("snapshot", m.Snapshot).Msg("snapshot failed")
			}
			// Reply before a drain may close the connection; after an
			// ok the connection stays busy until the dump's Confirm.
			rerr := reply(rc, f.Stream, err)
			if err != nil || rerr != nil {
				c.setActive(false)
			}
			if rerr != nil {
				return rerr
			}
		case *remoteimg.Confirm:
			c.setActive(true)
			err := remoteimg.CheckName(m.Snapshot)
			if err == nil {
				err = remoteimg.CheckLate(m) // stats-dump, relayed with it
			}
			if err == nil {
				err = l.confirm(ctx, m)
			}
			if err != nil {
				c.log.Error().Err(err).Str("snapshot", m.Snapshot).Msg("snapshot confirmation failed")
			} else {
				c.log.Info().Str("snapshot", m.Snapshot).Msg("snapshot confirmed by its dump")
			}
			rerr := reply(rc, f.Stream, err)
			c.setActive(false)
			if rerr != nil {
				return rerr
			}
		default:
			err := fmt.Errorf("%w: %s from a writer", remoteimg.ErrProtocol, m.Type())
			_ = reply(rc, f.Stream, err)
			return err
		}
	}
}

func checkPut(m *remoteimg.Put) error {
	if err := remoteimg.CheckName(m.Snapshot); err != nil {
		return err
	}
	if m.Parent != "" {
		if err := remoteimg.CheckName(m.Parent); err != nil {
			return err
		}
	}
	return remoteimg.CheckName(m.Name)
}

func checkFinish(m *remoteimg.Finish) error {
	if err := remoteimg.CheckName(m.Snapshot); err != nil {
		return err
	}
	if m.Parent != "" {
		if err := remoteimg.CheckName(m.Parent); err != nil {
			return err
		}
	}
	for _, im := range m.Images {
		if err := remoteimg.CheckName(im.Name); err != nil {
			return err
		}
	}
	return nil
}

// serveRelay lets criu dump read the parent snapshot of an incremental
// dump (its pagemaps and memory tracker image), which only the cache
// holds: the reader gets its own connection to the cache, as a reader,
// and the frames are relayed both ways. Only Get and List pass (the cache
// serves nothing else to a reader over TCP either).
func (c *conn) serveRelay(ctx context.Context, rc *remoteimg.Conn) error {
	// The relay's buffers are charged before they exist: the cache
	// connection's read buffer, one frame buffer that every message from
	// the cache is read into, and the frame writer's buffer towards criu
	// (a ListReply may fill it). Image bytes go out with writev, not
	// copied.
	// The first request is read first, so that a refusal answers it.
	first, err := readRelayRequest(rc)
	if err != nil {
		return err
	}
	const charge = connBufCharge + 2*remoteimg.MaxPayload
	if err := c.srv.link.acquireBuf(ctx, charge, "another reader relay"); err != nil {
		c.log.Warn().Err(err).Msg("reader relay refused")
		_ = reply(rc, first.stream, err)
		return err
	}
	defer c.srv.link.unreserve(charge)
	dctx, cancel := context.WithTimeout(ctx, remoteimg.HandshakeTimeout)
	nc, err := c.srv.Dial(dctx)
	var up *remoteimg.Conn
	if err == nil {
		if up, err = remoteimg.ClientHandshake(dctx, nc, remoteimg.RoleReader); err != nil {
			nc.Close()
		}
	}
	cancel()
	if err != nil {
		err = fmt.Errorf("image cache: %w: %w", remoteimg.ErrUnavailable, err)
		c.log.Warn().Err(err).Msg("cannot relay a reader to the image cache")
		_ = reply(rc, first.stream, err)
		return err
	}
	defer up.Close()
	c.log.Debug().Msg("relaying a reader to the cache")
	down := make(chan error, 1)
	go func() { // cache → criu
		buf := make([]byte, remoteimg.MaxPayload)
		for {
			f, err := remoteimg.ReadFrameBuf(up.R, remoteimg.MaxPayload, buf)
			var m remoteimg.Msg
			if err == nil {
				m, err = remoteimg.Decode(f)
			}
			if err == nil {
				if d, ok := m.(*remoteimg.Data); ok {
					err = rc.W.WriteData(f.Stream, d.Offset, d.Bytes)
				} else {
					err = rc.W.WriteMsg(f.Stream, m)
				}
			}
			if err != nil {
				rc.Close()
				down <- err
				return
			}
		}
	}()
	req := first
	for { // criu → cache: Get and List, small frames
		err := up.W.WriteMsg(req.stream, req.m)
		if err == nil {
			req, err = readRelayRequest(rc)
		}
		if err != nil {
			up.Close()
			<-down
			return err
		}
	}
}

type relayRequest struct {
	stream uint64
	m      remoteimg.Msg
}

// readRelayRequest reads what a reader sends through a relay: a Get or
// a List (anything else is answered with ErrProtocol and is an error).
func readRelayRequest(rc *remoteimg.Conn) (relayRequest, error) {
	f, err := remoteimg.ReadFrame(rc.R, maxRelayRequest)
	if err != nil {
		return relayRequest{}, err
	}
	m, err := remoteimg.Decode(f)
	if err == nil {
		switch m.(type) {
		case *remoteimg.Get, *remoteimg.List:
			return relayRequest{f.Stream, m}, nil
		}
		err = fmt.Errorf("%w: %s from a reader", remoteimg.ErrProtocol, m.Type())
	}
	_ = reply(rc, f.Stream, err)
	return relayRequest{}, err
}

// maxRelayRequest caps what a reader sends through a relay (a Get: two
// names and a number; a List: nothing).
const maxRelayRequest = 2*remoteimg.MaxNameLen + 64
