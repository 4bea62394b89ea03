package imgcache

import (
	"crypto/tls"
	"net"
	"time"
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
)

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

// admit counts a new connection of peer, or refuses it over the cap.
func (srv *Server) admit(peer string) bool {
	if peer == "" {
		return true
	}
	srv.peerMu.Lock()
	defer srv.peerMu.Unlock()
	pc := srv.peers[peer]
	if pc == nil {
		pc = &peerCount{}
		srv.peers[peer] = pc
	}
	if pc.conns >= srv.MaxConnsPerPeer {
		return false
	}
	pc.conns++
	return true
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
