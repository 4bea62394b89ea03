// Package remotetest holds test helpers for the remote image path, shared
// by the image-cache and image-proxy tests.
package remotetest

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Relay forwards TCP connections from a loopback port to a target, and
// lets a test cut every connection once some more bytes have gone
// upstream, or flip a byte of a marker in the upstream bytes.
type Relay struct {
	ln     net.Listener
	target string

	mu        sync.Mutex // protects the fields below
	conns     []net.Conn
	corrupt   []byte   // flip a byte of the first occurrence of this, once
	cutAfter  int64    // cut every connection once this many bytes went up (0: never)
	cutMarker [][]byte // cut every connection once one of these has been forwarded up, once
	forwarded int64
	cuts      int
	wg        sync.WaitGroup
}

// NewRelay starts a relay to target; it is closed when the test ends.
func NewRelay(t testing.TB, target string) *Relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, target: target}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.Close)
	return r
}

// Addr is the relay's address (host:port).
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Port is the relay's port.
func (r *Relay) Port() string { return strconv.Itoa(r.ln.Addr().(*net.TCPAddr).Port) }

// CutAt arranges a cut of every connection once n more bytes have been
// forwarded upstream.
func (r *Relay) CutAt(n int64) {
	r.mu.Lock()
	r.cutAfter = r.forwarded + n
	r.mu.Unlock()
}

// Cuts is how many cuts happened.
func (r *Relay) Cuts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cuts
}

// CutAfterMarker arranges that the bytes holding marker reach the target
// while nothing more reaches the sender: the sender's connection is
// closed first, then the marker forwarded, then every connection cut,
// and new connections refused from then on (a proxy killed right after
// it sent the marker).
// Several markers: the first of them to pass triggers it.
func (r *Relay) CutAfterMarker(markers ...[]byte) {
	r.mu.Lock()
	r.cutMarker = markers
	r.mu.Unlock()
}

// Corrupt flips a byte in the middle of the first occurrence of marker
// in the upstream bytes, once.
func (r *Relay) Corrupt(marker []byte) {
	r.mu.Lock()
	r.corrupt = marker
	r.mu.Unlock()
}

// Close stops accepting, cuts every connection and waits for the
// forwarding goroutines. It may be called more than once.
func (r *Relay) Close() {
	r.ln.Close()
	r.cutAll()
	r.wg.Wait()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, u)
		r.mu.Unlock()
		r.wg.Add(2)
		go func() { defer r.wg.Done(); r.up(u, c); u.Close(); c.Close() }()
		go func() { defer r.wg.Done(); io.Copy(c, u); u.Close(); c.Close() }()
	}
}

// up forwards src to dst, corrupting and cutting as asked.
func (r *Relay) up(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	var tail, seen []byte
	for {
		n, err := src.Read(buf)
		if n > 0 {
			b := buf[:n]
			r.mu.Lock()
			if r.corrupt != nil {
				// Search across read boundaries.
				w := append(append([]byte(nil), tail...), b...)
				if i := bytes.Index(w, r.corrupt); i >= 0 {
					j := i + len(r.corrupt)/2 - len(tail)
					if j >= 0 && j < len(b) {
						b[j] ^= 0x40
						r.corrupt = nil
					}
				}
				if len(w) > 64 {
					tail = append(tail[:0], w[len(w)-64:]...)
				} else {
					tail = w
				}
			}
			r.forwarded += int64(n)
			cut := r.cutAfter > 0 && r.forwarded >= r.cutAfter
			if cut {
				r.cutAfter = 0
				r.cuts++
			}
			r.mu.Unlock()
			if cut {
				r.cutAll()
				return
			}
			r.mu.Lock()
			hit := false
			if ms := r.cutMarker; ms != nil {
				seen = append(seen, b...)
				keep := 0
				for _, m := range ms {
					hit = hit || bytes.Contains(seen, m)
					keep = max(keep, len(m))
				}
				if hit {
					r.cutMarker = nil
					r.cuts++
				} else if len(seen) > keep {
					seen = append(seen[:0], seen[len(seen)-keep:]...)
				}
			}
			r.mu.Unlock()
			if hit {
				// The sender is gone first, so no answer reaches it;
				// then the peer gets the marker whole, then the cut.
				r.ln.Close()
				src.Close()
				dst.Write(b)
				r.cutAll()
				return
			}
			if _, err := dst.Write(b); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *Relay) cutAll() {
	r.mu.Lock()
	cs := r.conns
	r.conns = nil
	r.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}
