package sockets

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/sockets/raw"
	"github.com/criugo/criu/criu/sockets/soccr"
	"github.com/criugo/criu/proto/images"
)

// OpenInet creates, in the restorer, the IPv4 or IPv6 socket e
// describes: options, bound address, listening or connected (UDP, raw). It
// runs in the tree's network namespace. An established TCP connection
// is InetRestorer's. A bound TCP or UDP socket that had no SO_REUSEPORT
// binds and listens with it (sharedPort), so that sockets sharing a
// port bind in any order: InetRestorer turns it off once all are made.
func OpenInet(e *images.InetSkEntry) (fd int, err error) { return openInet(e, nil) }

// openInet is OpenInet; conn, if not nil, binds and connects the socket
// in place of bind, listen and connect.
func openInet(e *images.InetSkEntry, conn func(fd int, src unix.Sockaddr) error) (fd int, err error) {
	family := int(e.GetFamily())
	fd, err = unix.Socket(family, int(e.GetType())|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(e.GetProto()))
	if err != nil && errors.Is(err, unix.EACCES) && pingProto(family, int(e.GetProto())) {
		return -1, fmt.Errorf("socket:[%d]: a ping socket, which net.ipv4.ping_group_range here does not allow to gid %d: %w", e.GetIno(), os.Getgid(), os.NewSyscallError("socket", err))
	}
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
			err = fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
		}
	}()
	if err := setSkOpts(fd, e.GetOpts()); err != nil {
		return fd, err
	}
	ipo := e.GetIpOpts()
	if family == unix.AF_INET6 {
		v6only := 0
		if e.GetV6Only() {
			v6only = 1
		}
		// A raw socket has a port (its protocol) from the start, and
		// refuses IPV6_V6ONLY: set only where it differs.
		if cur, err := unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); err != nil || cur != v6only {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
				return fd, os.NewSyscallError("setsockopt(IPV6_V6ONLY)", err)
			}
		}
		if ipo.GetFreebind() {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, ipv6Freebind, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(IPV6_FREEBIND)", err)
			}
		}
		if ipo.GetPktinfo() {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(IPV6_RECVPKTINFO)", err)
			}
		}
	} else {
		if ipo.GetFreebind() {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_FREEBIND, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(IP_FREEBIND)", err)
			}
		}
		if v := ipo.GetTos(); v != 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, int(v)); err != nil {
				return fd, os.NewSyscallError("setsockopt(IP_TOS)", err)
			}
		}
		if ipo.GetPktinfo() {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(IP_PKTINFO)", err)
			}
		}
		// IP_TTL reads as the namespace's default until set: set it
		// only where it differs from this new socket's.
		if v := ipo.GetTtl(); ipo.Ttl != nil {
			if cur, err := unix.GetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL); err != nil || cur != int(v) {
				if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, int(v)); err != nil {
					return fd, os.NewSyscallError("setsockopt(IP_TTL)", err)
				}
			}
		}
	}
	if e.GetType() == unix.SOCK_RAW {
		if err := raw.SetOpts(fd, family, int(e.GetProto()), ipo.GetRaw()); err != nil {
			return fd, err
		}
	}
	if streamProto(int(e.GetProto())) && e.GetType() == unix.SOCK_STREAM {
		if err := soccr.SetOpts(fd, e.GetTcpOpts(), e.GetOpts()); err != nil {
			return fd, err
		}
	}
	src, err := inetSockaddr(family, e.GetSrcAddr(), e.GetSrcPort())
	if err != nil {
		return fd, err
	}
	if conn != nil {
		if err := conn(fd, src); err != nil {
			return fd, err
		}
	} else if e.GetSrcPort() != 0 || !zeroWords(e.GetSrcAddr()) {
		if sharedPort(e) {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(SO_REUSEPORT)", err)
			}
		}
		if err := bindFree(fd, family, int(e.GetType()), src, ipo.GetFreebind()); err != nil {
			return fd, err
		}
		defer func() { err = errors.Join(err, soccr.SetReuseAddr(fd, e.GetOpts().GetReuseaddr())) }()
	}
	switch {
	case e.GetState() == tcpListen:
		if err := unix.Listen(fd, int(e.GetBacklog())); err != nil {
			return fd, os.NewSyscallError("listen", err)
		}
	case e.GetState() == tcpEstablished && (e.GetType() == unix.SOCK_DGRAM || e.GetType() == unix.SOCK_RAW):
		dst, err := inetSockaddr(family, e.GetDstAddr(), e.GetDstPort())
		if err != nil {
			return fd, err
		}
		if err := unix.Connect(fd, dst); err != nil {
			return fd, os.NewSyscallError("connect", err)
		}
	case e.GetType() == unix.SOCK_STREAM && (soccr.Connected(e.GetState()) || e.GetState() == soccr.StateSynSent) && conn == nil:
		return fd, fmt.Errorf("%w: TCP connection (%s)", errdefs.ErrUnsupported, soccr.StateName(e.GetState()))
	}
	if how := e.GetShutdown(); how != images.SkShutdown_NONE {
		// An unconnected socket is shut down all the same (ENOTCONN).
		if err := unix.Shutdown(fd, int(how)-1); err != nil && !errors.Is(err, unix.ENOTCONN) {
			return fd, os.NewSyscallError("shutdown", err)
		}
	}
	if err := setSkFilter(fd, e.GetOpts()); err != nil {
		return fd, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(e.GetFlags()&^unix.O_ACCMODE)); err != nil {
		return fd, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return fd, nil
}

// sharedPort tells a socket that binds with SO_REUSEPORT on, though it
// had it off: two sockets of a SO_REUSEPORT group, one of which then
// turned it off, share their port still, and could not bind in turn
// with the option as it was (EADDRINUSE), nor could the first listen
// (CRIU 4.2 sets it for every socket so). A raw socket's port is its
// protocol.
func sharedPort(e *images.InetSkEntry) bool {
	return !e.GetOpts().GetSoReuseport() && e.GetType() != unix.SOCK_RAW && e.GetSrcPort() != 0
}

// bindFree binds fd (BindShared) with IP_FREEBIND (IPV6_FREEBIND) on,
// then off again unless freebind (the socket's own, already set): the
// address may be one the namespace does not hold (yet: IPv6 addresses
// are tentative for a while), bound while the option was on, which the
// task then turned off (as CRIU 4.2, which does so for IPv6). A raw
// socket binds as it is.
func bindFree(fd, family, typ int, src unix.Sockaddr, freebind bool) error {
	if freebind || typ == unix.SOCK_RAW {
		return soccr.BindShared(fd, src)
	}
	level, opt := unix.IPPROTO_IP, unix.IP_FREEBIND
	if family == unix.AF_INET6 {
		level, opt = unix.IPPROTO_IPV6, ipv6Freebind
	}
	if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
		return os.NewSyscallError("setsockopt(FREEBIND)", err)
	}
	if err := soccr.BindShared(fd, src); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt(FREEBIND)", unix.SetsockoptInt(fd, level, opt, 0))
}

func zeroWords(w []uint32) bool {
	for _, v := range w {
		if v != 0 {
			return false
		}
	}
	return true
}

// inetSockaddr builds a sockaddr from CRIU's address words (network-order
// bytes read as little-endian u32s).
func inetSockaddr(family int, words []uint32, port uint32) (unix.Sockaddr, error) {
	a, ok := image.InetAddr(uint32(family), words)
	if !ok {
		return nil, fmt.Errorf("%w: family %d with %d address words", errdefs.ErrBadImage, family, len(words))
	}
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}, nil
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}, nil
}
