package limits

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// Peers counts the TCP connections of each peer host and of all
// together. Set the caps before first use.
type Peers struct {
	MaxConnsPerPeer, MaxReadersPerPeer, MaxConns int

	mu    sync.Mutex // protects peers and total
	peers map[string]*peerCount
	total int

	refusing atomic.Int32 // refusals being written (Refuse)
}

// peerCount is what one peer holds; Peers.mu protects it.
type peerCount struct {
	conns, readers int
}

// Key is what the per-peer caps count by: the remote host of a TCP
// connection, "" (no cap) for a UNIX one.
func Key(nc net.Conn) string {
	a, ok := nc.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	return a.IP.String()
}

// Admit counts a new connection of peer, or refuses it over its peer's
// cap or the cap of all TCP connections (ErrPermission).
func (p *Peers) Admit(peer string) error {
	if peer == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total >= p.MaxConns {
		return fmt.Errorf("%w: too many connections to the cache from all peers (cap %d, --max-conns)", remoteimg.ErrPermission, p.MaxConns)
	}
	if p.peers == nil {
		p.peers = map[string]*peerCount{}
	}
	pc := p.peers[peer]
	if pc == nil {
		pc = &peerCount{}
		p.peers[peer] = pc
	}
	if pc.conns >= p.MaxConnsPerPeer {
		return fmt.Errorf("%w: too many connections from this peer (cap %d)", remoteimg.ErrPermission, p.MaxConnsPerPeer)
	}
	pc.conns++
	p.total++
	return nil
}

// Reader counts peer's admitted connection as a reader (d = +1 on a
// reader handshake, -1 at its end); +1 fails over the cap.
func (p *Peers) Reader(peer string, d int) bool {
	if peer == "" {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.peers[peer]
	if d > 0 && pc.readers >= p.MaxReadersPerPeer {
		return false
	}
	pc.readers += d
	return true
}

// Leave uncounts a connection Admit counted.
func (p *Peers) Leave(peer string) {
	if peer == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.peers[peer]
	p.total--
	if pc.conns--; pc.conns == 0 {
		delete(p.peers, peer)
	}
}

// maxRefusing caps the refusals being written at once (each takes an fd
// and a goroutine for up to refuseTimeout); past it a connection is
// closed without a word.
const (
	maxRefusing   = 64
	refuseTimeout = 2 * time.Second
)

// Refuse tells a connection refused before its handshake why, as the
// handshake's answer (a Result instead of Hello: the client reports
// "handshake refused: ..."), then closes it. Its Hello is read first, so
// that the close does not reset the connection under the answer.
func (p *Peers) Refuse(nc net.Conn, err error) {
	defer nc.Close()
	if p.refusing.Add(1) > maxRefusing {
		p.refusing.Add(-1)
		return
	}
	defer p.refusing.Add(-1)
	_ = nc.SetDeadline(time.Now().Add(refuseTimeout))
	if _, rerr := remoteimg.ReadFrame(nc, remoteimg.MaxHelloPayload); rerr != nil {
		return
	}
	r := remoteimg.ErrorResult(err)
	_ = remoteimg.NewFrameWriter(nc).WriteMsg(0, &r)
}
