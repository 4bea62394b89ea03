package daemon

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Tracked is a served connection as a ConnSet sees it: a drain asks it to
// close once it is idle, a forced stop closes it.
type Tracked interface {
	// CloseIfIdle closes the connection now if nothing is in flight on
	// it; otherwise the connection closes itself when its work ends
	// and ConnSet.Closing reports true.
	CloseIfIdle()
	Close() error
}

// ConnSet is the accept loop and the set of live connections that both
// daemons share: Serve tracks each accepted connection, Drain stops
// accepting and closes the idle ones, Wait waits for every connection to
// end, CloseAll ends those still open. Set its fields before the first
// Serve; the zero value is otherwise ready.
type ConnSet struct {
	// Closed is what Serve returns once the set is draining.
	Closed error
	Log    zerolog.Logger

	mu        sync.Mutex // protects the fields below
	listeners map[net.Listener]struct{}
	conns     map[Tracked]struct{}
	closing   bool
	wg        sync.WaitGroup
}

// Serve accepts connections on ln until Drain, retrying transient accept
// errors (RetryAccept). For each connection, start returns what to track
// and the function that serves it, run on its own goroutine.
func (s *ConnSet) Serve(ln net.Listener, start func(net.Conn) (Tracked, func())) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return s.Closed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[Tracked]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.Closing() {
				return s.Closed
			}
			if RetryAccept(err, &delay, s.Log) {
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		c, serve := start(nc)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return s.Closed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Closing reports whether Drain has been called.
func (s *ConnSet) Closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Drain stops accepting (every listener is closed, Serve returns Closed)
// and closes the connections that are idle; the busy ones close when
// their work ends.
func (s *ConnSet) Drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		for ln := range s.listeners {
			ln.Close()
		}
	}
	for c := range s.conns {
		c.CloseIfIdle()
	}
}

// Wait blocks until every served connection has ended.
func (s *ConnSet) Wait() { s.wg.Wait() }

// CloseAll closes every connection still open.
func (s *ConnSet) CloseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// RetryAccept reports whether err, returned by a listener's Accept, is
// transient (a timeout, or this process or the system out of file
// descriptors); if so it logs it and sleeps before the caller accepts
// again, doubling *delay from 5 ms up to 1 s. The caller resets *delay to
// 0 after a successful Accept. ConnSet.Serve uses it.
func RetryAccept(err error, delay *time.Duration, log zerolog.Logger) bool {
	var ne net.Error
	if !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, unix.EMFILE) && !errors.Is(err, unix.ENFILE) {
		return false
	}
	*delay = min(max(2**delay, 5*time.Millisecond), time.Second)
	log.Warn().Err(err).Dur("retry", *delay).Msg("accept")
	time.Sleep(*delay)
	return true
}
