package imgcache

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// Limits on what one TCP peer (a host) may hold of the cache: the UNIX
// socket is the owner's and is not limited.
const (
	// DefaultMaxConnsPerPeer caps the connections of one TCP peer host.
	DefaultMaxConnsPerPeer = 64
	// DefaultMaxReadersPerPeer caps the reader connections of one TCP
	// peer host (each may wait for a snapshot that is not there).
	DefaultMaxReadersPerPeer = 16
	// DefaultIdleTimeout is how long a TCP connection without a client
	// certificate may stay with nothing in flight before it is dropped.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxConns caps the TCP connections of all peers together,
	// so that many peers cannot exhaust the daemon's fds and memory.
	DefaultMaxConns = 512
)

// What the buffers of a connection count against MaxMemory (see the
// package doc, Memory).
const (
	// connCharge: every connection's 64 KiB read buffer, its frame
	// writer's small buffer, its goroutines' stacks and a read-back
	// check's copy buffer; charged at accept, before the handshake
	// allocates any of it.
	connCharge = 64<<10 + 32<<10
	// tlsCharge: a TLS connection's record buffers, on top.
	tlsCharge = 48 << 10
	// smallFrame is a proxy connection's buffer for the frames that are
	// not image bytes (Put, Commit, Finish...), part of connCharge.
	smallFrame = 4 << 10
	// proxyFrameCharge: a proxy connection's frame buffer (the payloads
	// not read straight into an image's storage, and larger than
	// smallFrame); charged when the first of them comes.
	proxyFrameCharge = remoteimg.MaxPayload
	// readBufCharge: a reader's buffer for an image held in a file,
	// charged when it has bytes to read, not while it waits.
	readBufCharge = remoteimg.MaxChunk
	// maxReaderFrame caps a reader's frames (Get, List, Release: names
	// and a number), so that a reader cannot make the cache allocate a
	// large payload.
	maxReaderFrame = 2*remoteimg.MaxNameLen + 64
	// maxRefusing caps the refusals being written at once (each takes
	// an fd and a goroutine for up to refuseTimeout); past it a
	// connection is closed without a word.
	maxRefusing   = 64
	refuseTimeout = 2 * time.Second
)

// bufShare is the part of MaxMemory that connection buffers may use: all
// of it with Dir (image bytes are in files), else a sixteenth, between 4
// and 32 MiB and at most half, which image bytes may not use. So a cache
// full of snapshots still accepts the restore that frees them, and
// connections never crowd out images.
func bufShare(dir string, maxMem int64) int64 {
	if dir != "" {
		return maxMem
	}
	return min(max(maxMem/16, 4<<20), 32<<20, maxMem/2)
}

// charge counts n bytes of buffers against the buffers' share, or says
// why not (ErrNoSpace). TCP connections may fill three quarters of it:
// the rest is kept for the owner's UNIX socket (a local restore).
// What a charge is for, in its refusal; a connection's own charge
// (forConn) also counts it, for the message.
const (
	forConn  = "the buffers of another connection"
	forFrame = "the frame buffer of another proxy connection's transfer"
	forRead  = "the buffer of another image read"
)

func (srv *Server) charge(tcp bool, n int64, what string) error {
	conn := what == forConn
	srv.bufMu.Lock()
	defer srv.bufMu.Unlock()
	limit := srv.bufCap
	if tcp {
		limit = srv.bufCap / 4 * 3
	}
	if srv.bufUsed+n > limit {
		return fmt.Errorf("%w: the cache's --max-memory %s cannot hold %s "+
			"(%s of the %s its connections may use is held by %d connections); retry later or raise --max-memory",
			remoteimg.ErrNoSpace, mib(srv.MaxMemory), what, mib(srv.bufUsed), mib(limit), srv.bufConns)
	}
	srv.bufUsed += n
	if conn {
		srv.bufConns++
	}
	return nil
}

func (srv *Server) uncharge(n int64, what string) {
	conn := what == forConn
	srv.bufMu.Lock()
	srv.bufUsed -= n
	if conn {
		srv.bufConns--
	}
	srv.bufMu.Unlock()
}

// refuse tells a connection refused before its handshake why, as the
// handshake's answer (a Result instead of Hello: the client reports
// "handshake refused: ..."), then closes it. Its Hello is read first, so
// that the close does not reset the connection under the answer.
func (srv *Server) refuse(nc net.Conn, err error) {
	defer nc.Close()
	if srv.refusing.Add(1) > maxRefusing {
		srv.refusing.Add(-1)
		return
	}
	defer srv.refusing.Add(-1)
	_ = nc.SetDeadline(time.Now().Add(refuseTimeout))
	if _, rerr := remoteimg.ReadFrame(nc, remoteimg.MaxHelloPayload); rerr != nil {
		return
	}
	r := remoteimg.ErrorResult(err)
	_ = remoteimg.NewFrameWriter(nc).WriteMsg(0, &r)
}

// peerKey is what the per-peer caps count by: the remote host of a TCP
// connection, "" (no cap) for a UNIX one.
func peerKey(nc net.Conn) string {
	a, ok := nc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	return a.IP.String()
}

// peerCount is what one peer holds; Server.peerMu protects it.
type peerCount struct {
	conns, readers int
}

// admit counts a new connection of peer, or refuses it over its peer's
// cap or the cap of all TCP connections (ErrPermission).
func (srv *Server) admit(peer string) error {
	if peer == "" {
		return nil
	}
	srv.peerMu.Lock()
	defer srv.peerMu.Unlock()
	if srv.tcpConns >= srv.MaxConns {
		return fmt.Errorf("%w: too many connections to the cache from all peers (cap %d, --max-conns)", remoteimg.ErrPermission, srv.MaxConns)
	}
	pc := srv.peers[peer]
	if pc == nil {
		pc = &peerCount{}
		srv.peers[peer] = pc
	}
	if pc.conns >= srv.MaxConnsPerPeer {
		return fmt.Errorf("%w: too many connections from this peer (cap %d)", remoteimg.ErrPermission, srv.MaxConnsPerPeer)
	}
	pc.conns++
	srv.tcpConns++
	return nil
}

// reader counts peer's connection as a reader (d = +1 on a reader
// handshake, -1 at its end); +1 fails over the cap.
func (srv *Server) reader(peer string, d int) bool {
	if peer == "" {
		return true
	}
	srv.peerMu.Lock()
	defer srv.peerMu.Unlock()
	pc := srv.peers[peer]
	if d > 0 && pc.readers >= srv.MaxReadersPerPeer {
		return false
	}
	pc.readers += d
	return true
}

func (srv *Server) leave(peer string) {
	if peer == "" {
		return
	}
	srv.peerMu.Lock()
	defer srv.peerMu.Unlock()
	pc := srv.peers[peer]
	srv.tcpConns--
	if pc.conns--; pc.conns == 0 {
		delete(srv.peers, peer)
	}
}

// authenticated reports whether nc's peer showed a client certificate
// (after the TLS handshake).
func authenticated(nc net.Conn) bool {
	tc, ok := nc.(*tls.Conn)
	return ok && len(tc.ConnectionState().PeerCertificates) > 0
}

// idleWatch closes c once nothing has been in flight and no frame has
// come for IdleTimeout; it returns when done is closed. c.seen is the
// time of the last frame, c.active what is in flight.
func (c *conn) idleWatch(done <-chan struct{}) {
	idle := c.srv.IdleTimeout
	t := time.NewTicker(max(idle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		c.mu.Lock()
		quiet := c.idleLocked() && time.Since(time.Unix(0, c.seen.Load())) > idle
		c.mu.Unlock()
		if quiet {
			c.log.Warn().Dur("idle", idle).Msg("unauthenticated peer idle, dropped")
			c.nc.Close()
			return
		}
	}
}

// saw records that a frame came.
func (c *conn) saw() { c.seen.Store(time.Now().UnixNano()) }
