package sockets

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/sockets/soccr"
)

// Conn is an established TCP connection of the tree: what the network
// lock needs to drop its packets from the dump to the restore.
type Conn struct {
	Family        int // unix.AF_INET or unix.AF_INET6
	Local, Remote netip.AddrPort
}

// tcpConn is a connection saved with --tcp-established (or closed):
// fd is this dumper's own copy of the socket, in repair mode until
// Release.
type tcpConn struct {
	Conn
	fd    int
	ino   uint32
	st    *soccr.Stream
	reuse bool // SO_REUSEADDR, which the end of repair mode clears
}

// Established lists the tree's established TCP connections recorded so
// far (all of them once every fd is added).
func (s *Set) Established() []Conn {
	out := make([]Conn, len(s.tcp))
	for i, c := range s.tcp {
		out[i] = c.Conn
	}
	return out
}

// addTCPConn saves the connection of cp (ino, from sa to peer, its
// SO_REUSEADDR reuse): a copy of it is put in repair mode, which it
// keeps until Release. It returns the connection's state as saved,
// under the network lock.
func (s *Set) addTCPConn(cp int, ino uint32, family int, sa, peer unix.Sockaddr, reuse bool) (uint32, error) {
	fd, err := unix.FcntlInt(uintptr(cp), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("dup socket:[%d]: %w", ino, err)
	}
	c := &tcpConn{Conn: Conn{Family: family, Local: soccr.AddrPort(sa), Remote: soccr.AddrPort(peer)}, fd: fd, ino: ino, reuse: reuse}
	if s.opts.LockConn != nil {
		err = s.opts.LockConn(c.Conn)
	}
	if err == nil {
		err = soccr.Pause(fd)
	}
	if err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("%s -> %s: %w", c.Local, c.Remote, err)
	}
	s.tcp = append(s.tcp, c)
	if c.st, err = soccr.Save(fd); err != nil {
		return 0, fmt.Errorf("%s -> %s: %w", c.Local, c.Remote, err)
	}
	return c.st.State, nil
}

// Release closes the copies of the connections, each in repair mode
// since it was added. With resume (--leave-running, or a dump that
// failed) they leave repair mode first and go on, with SO_REUSEADDR
// set back (the end of repair mode clears it); without it (the tree
// was killed) they close in repair mode, which sends nothing: the peer
// sees no FIN and no RST, and the restored socket takes over. It closes
// the copies of the descriptors in flight too (InFlight). A second call
// does nothing.
func (s *Set) Release(resume bool) error {
	var errs []error
	for _, c := range s.tcp {
		if resume {
			errs = append(errs, soccr.Resume(c.fd))
			if c.reuse {
				errs = append(errs, soccr.SetReuseAddr(c.fd, true))
			}
		}
		unix.Close(c.fd)
	}
	err := errors.Join(errs...)
	s.tcp = nil
	s.closeInFlight()
	return err
}

// writeTCP writes the image of each connection (soccr.ImageName).
func (s *Set) writeTCP(ctx context.Context, store image.Store) error {
	for _, c := range s.tcp {
		if err := soccr.WriteImage(ctx, store, c.ino, c.st); err != nil {
			return err
		}
	}
	return nil
}

// refuseTCP is the refusal of a TCP socket in state (neither listening
// nor closed) from sa to peer: one in a state soccr does not save, or
// any connection (connecting too) without --tcp-established or
// --tcp-close.
func refuseTCP(sa, peer unix.Sockaddr, state uint32, repair bool) error {
	what := fmt.Sprintf("%s -> %s (%s)", addrString(sa), addrString(peer), soccr.StateName(state))
	switch {
	case !soccr.Saves(state):
		return fmt.Errorf("%s: %w", what, soccr.ErrState)
	case !repair:
		return fmt.Errorf("%s: %w", what, errdefs.ErrTCPEstablished)
	}
	return nil
}
