package sockets

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/sockets/soccr"
	"github.com/criugo/criu/proto/images"
)

// TCPOptions: established TCP connections are rebuilt (--tcp-established)
// or closed (--tcp-close); with neither, images holding one are refused.
type TCPOptions struct {
	Established, Close bool
}

// InetRestorer makes the inet sockets of a restore; established TCP
// connections stay in repair mode until Resume (a restore failing before
// closes them silently). It is used by one goroutine.
type InetRestorer struct {
	store  image.Store
	opts   TCPOptions
	repair []soccr.Restored // the connections made (fds: the restorer's masters)
	// reuseport are the masters bound with SO_REUSEPORT they had off
	// (sharedPort), turned off by Resume.
	reuseport []int
}

// NewInetRestorer returns the maker of the inet sockets of the images
// of store.
func NewInetRestorer(store image.Store, opts TCPOptions) *InetRestorer {
	return &InetRestorer{store: store, opts: opts}
}

// Open is OpenInet, and for a TCP connection (established,
// half-closed, closed after it: its peer kept, or connecting) the
// socket in repair mode, bound, connected, in its state, with its
// queues (soccr.ImageName), one connecting connected by Resume; with
// TCPOptions.Close, a new socket closed both ways (soccr.Closed), as
// CRIU's.
func (r *InetRestorer) Open(ctx context.Context, e *images.InetSkEntry) (int, error) {
	conn := soccr.Saves(e.GetState()) && (e.GetState() != tcpClose || e.GetDstPort() != 0)
	if !conn || e.GetProto() != unix.IPPROTO_TCP || e.GetType() == unix.SOCK_RAW {
		fd, err := OpenInet(e)
		if err == nil && sharedPort(e) {
			r.reuseport = append(r.reuseport, fd)
		}
		return fd, err
	}
	family := int(e.GetFamily())
	dst, err := inetSockaddr(family, e.GetDstAddr(), e.GetDstPort())
	if err != nil {
		return -1, err
	}
	src, _ := inetSockaddr(family, e.GetSrcAddr(), e.GetSrcPort())
	what := fmt.Sprintf("socket:[%d] %s -> %s", e.GetIno(), addrString(src), addrString(dst))
	if !r.opts.Established && !r.opts.Close {
		return -1, fmt.Errorf("%s: %w", what, errdefs.ErrTCPEstablished)
	}
	if r.opts.Close {
		// As CRIU 4.2: a new socket, neither bound nor connected (a
		// port would meet the dumped connection's TIME_WAIT), closed.
		return openInet(e, func(fd int, _ unix.Sockaddr) error { return soccr.Closed(fd) })
	}
	st, err := soccr.ReadImage(ctx, r.store, e.GetIno())
	if err != nil {
		return -1, fmt.Errorf("%s: %w", what, err)
	}
	st.State = e.GetState()
	fd, err := openInet(e, func(fd int, src unix.Sockaddr) error {
		return soccr.Restore(fd, st, src, dst, e.GetIpOpts().GetFreebind())
	})
	if err == nil {
		c := soccr.Restored{Fd: fd, Unsent: st.UnsentAtResume(), ReuseAddr: e.GetOpts().GetReuseaddr()}
		if st.State == soccr.StateSynSent {
			c.Connect = dst
		}
		r.repair = append(r.repair, c)
	}
	return fd, err
}

// Resume turns SO_REUSEPORT off where the socket had it off, all being
// bound, and takes the connections out of repair mode: they go on, and
// what they had not sent is written. The masters are still open.
func (r *InetRestorer) Resume() error {
	for _, fd := range r.reuseport {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 0); err != nil {
			return os.NewSyscallError("setsockopt(SO_REUSEPORT)", err)
		}
	}
	r.reuseport = nil
	err := soccr.ResumeRestored(r.repair)
	r.repair = nil
	return err
}
