package imgcache

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// Limits on what one TCP peer (a host) may hold of the cache (counted by
// package limits): the UNIX socket is the owner's and is not limited.
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
)

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
