package sockets

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// Socket options not in x/sys/unix.
const (
	soBufLock    = 72 // SO_BUF_LOCK (Linux 5.14)
	ipv6Freebind = 78 // IPV6_FREEBIND (Linux 4.15)
)

// unsavedOpt is a socket option the images have no field for: a socket
// whose value differs from a fresh socket's (same family, type and
// protocol, in the same network namespace) fails the dump by name.
type unsavedOpt struct {
	level, opt int
	name       string
	str        bool // read as a string (TCP_CONGESTION), else an int
}

// Options the images cannot hold, by level. Not listed because they are
// state the kernel keeps moving, not settings: SO_INCOMING_CPU,
// TCP_TIMESTAMP, TCP_QUICKACK. Not readable at all: an eBPF filter
// (SO_ATTACH_BPF; SO_GET_FILTER answers EACCES, and the dump is refused),
// multicast memberships.
var (
	unsavedSocketOpts = []unsavedOpt{
		{unix.SOL_SOCKET, unix.SO_TIMESTAMP_OLD, "SO_TIMESTAMP", false},
		{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS_OLD, "SO_TIMESTAMPNS", false},
		{unix.SOL_SOCKET, unix.SO_TIMESTAMPING_OLD, "SO_TIMESTAMPING", false},
		{unix.SOL_SOCKET, unix.SO_RXQ_OVFL, "SO_RXQ_OVFL", false},
		{unix.SOL_SOCKET, unix.SO_WIFI_STATUS, "SO_WIFI_STATUS", false},
		{unix.SOL_SOCKET, unix.SO_PEEK_OFF, "SO_PEEK_OFF", false},
		{unix.SOL_SOCKET, unix.SO_NOFCS, "SO_NOFCS", false},
		{unix.SOL_SOCKET, unix.SO_LOCK_FILTER, "SO_LOCK_FILTER", false},
		{unix.SOL_SOCKET, unix.SO_SELECT_ERR_QUEUE, "SO_SELECT_ERR_QUEUE", false},
		{unix.SOL_SOCKET, unix.SO_BUSY_POLL, "SO_BUSY_POLL", false},
		{unix.SOL_SOCKET, unix.SO_MAX_PACING_RATE, "SO_MAX_PACING_RATE", false},
		{unix.SOL_SOCKET, unix.SO_ZEROCOPY, "SO_ZEROCOPY", false},
		{unix.SOL_SOCKET, unix.SO_PREFER_BUSY_POLL, "SO_PREFER_BUSY_POLL", false},
		{unix.SOL_SOCKET, unix.SO_BUSY_POLL_BUDGET, "SO_BUSY_POLL_BUDGET", false},
		{unix.SOL_SOCKET, unix.SO_RCVMARK, "SO_RCVMARK", false},
		{unix.SOL_SOCKET, unix.SO_PASSPIDFD, "SO_PASSPIDFD", false},
		{unix.SOL_SOCKET, unix.SO_TXREHASH, "SO_TXREHASH", false},
	}
	unsavedIPOpts = []unsavedOpt{
		{unix.IPPROTO_IP, unix.IP_RECVERR, "IP_RECVERR", false},
		{unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, "IP_MTU_DISCOVER", false},
		{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, "IP_MULTICAST_TTL", false},
		{unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP", false},
		{unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, "IP_MULTICAST_ALL", false},
		{unix.IPPROTO_IP, unix.IP_MULTICAST_IF, "IP_MULTICAST_IF", false},
		{unix.IPPROTO_IP, unix.IP_RECVTTL, "IP_RECVTTL", false},
		{unix.IPPROTO_IP, unix.IP_RECVTOS, "IP_RECVTOS", false},
		{unix.IPPROTO_IP, unix.IP_RECVOPTS, "IP_RECVOPTS", false},
		{unix.IPPROTO_IP, unix.IP_RETOPTS, "IP_RETOPTS", false},
		{unix.IPPROTO_IP, unix.IP_PASSSEC, "IP_PASSSEC", false},
		{unix.IPPROTO_IP, unix.IP_TRANSPARENT, "IP_TRANSPARENT", false},
		{unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, "IP_BIND_ADDRESS_NO_PORT", false},
		{unix.IPPROTO_IP, unix.IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR", false},
		{unix.IPPROTO_IP, unix.IP_NODEFRAG, "IP_NODEFRAG", false},
		{unix.IPPROTO_IP, unix.IP_CHECKSUM, "IP_CHECKSUM", false},
		{unix.IPPROTO_IP, unix.IP_MINTTL, "IP_MINTTL", false},
		{unix.IPPROTO_IP, unix.IP_RECVFRAGSIZE, "IP_RECVFRAGSIZE", false},
		{unix.IPPROTO_IP, unix.IP_RECVERR_RFC4884, "IP_RECVERR_RFC4884", false},
		{unix.IPPROTO_IP, unix.IP_LOCAL_PORT_RANGE, "IP_LOCAL_PORT_RANGE", false},
	}
	// IPv4 options of an IPv6 socket (for its v4-mapped traffic): the
	// images hold them for IPv4 sockets only.
	unsavedIPOptsOfIPv6 = []unsavedOpt{
		{unix.IPPROTO_IP, unix.IP_TOS, "IP_TOS", false},
		{unix.IPPROTO_IP, unix.IP_TTL, "IP_TTL", false},
		{unix.IPPROTO_IP, unix.IP_PKTINFO, "IP_PKTINFO", false},
	}
	unsavedIPv6Opts = []unsavedOpt{
		{unix.IPPROTO_IPV6, unix.IPV6_RECVERR, "IPV6_RECVERR", false},
		{unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER", false},
		{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS", false},
		{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS", false},
		{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP", false},
		{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, "IPV6_MULTICAST_IF", false},
		{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, "IPV6_MULTICAST_ALL", false},
		{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT", false},
		{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, "IPV6_RECVTCLASS", false},
		{unix.IPPROTO_IPV6, unix.IPV6_TCLASS, "IPV6_TCLASS", false},
		{unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT, "IPV6_TRANSPARENT", false},
		{unix.IPPROTO_IPV6, unix.IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR", false},
		{unix.IPPROTO_IPV6, unix.IPV6_AUTOFLOWLABEL, "IPV6_AUTOFLOWLABEL", false},
		{unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, "IPV6_DONTFRAG", false},
		{unix.IPPROTO_IPV6, unix.IPV6_RECVPATHMTU, "IPV6_RECVPATHMTU", false},
		{unix.IPPROTO_IPV6, unix.IPV6_ADDR_PREFERENCES, "IPV6_ADDR_PREFERENCES", false},
		{unix.IPPROTO_IPV6, unix.IPV6_MINHOPCOUNT, "IPV6_MINHOPCOUNT", false},
		{unix.IPPROTO_IPV6, unix.IPV6_RECVFRAGSIZE, "IPV6_RECVFRAGSIZE", false},
	}
	unsavedTCPOpts = []unsavedOpt{
		{unix.IPPROTO_TCP, unix.TCP_MAXSEG, "TCP_MAXSEG", false},
		{unix.IPPROTO_TCP, unix.TCP_SYNCNT, "TCP_SYNCNT", false},
		{unix.IPPROTO_TCP, unix.TCP_LINGER2, "TCP_LINGER2", false},
		{unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", false},
		{unix.IPPROTO_TCP, unix.TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP", false},
		{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", false},
		{unix.IPPROTO_TCP, unix.TCP_THIN_LINEAR_TIMEOUTS, "TCP_THIN_LINEAR_TIMEOUTS", false},
		{unix.IPPROTO_TCP, unix.TCP_FASTOPEN, "TCP_FASTOPEN", false},
		{unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT, "TCP_FASTOPEN_CONNECT", false},
		{unix.IPPROTO_TCP, unix.TCP_FASTOPEN_NO_COOKIE, "TCP_FASTOPEN_NO_COOKIE", false},
		{unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", false},
		{unix.IPPROTO_TCP, unix.TCP_SAVE_SYN, "TCP_SAVE_SYN", false},
		{unix.IPPROTO_TCP, unix.TCP_TX_DELAY, "TCP_TX_DELAY", false},
		{unix.IPPROTO_TCP, unix.TCP_INQ, "TCP_INQ", false},
		{unix.IPPROTO_TCP, unix.TCP_CONGESTION, "TCP_CONGESTION", true},
	}
	// Set by the kernel on a connection (the MSS and window clamp its
	// handshake agreed, the multicast TTL or hops and interface an
	// accepted one takes from its SYN), so not compared; mss_clamp is in
	// tcp-stream-INO.img.
	connSet = map[[2]int]bool{{unix.IPPROTO_TCP, unix.TCP_MAXSEG}: true, {unix.IPPROTO_TCP, unix.TCP_WINDOW_CLAMP}: true,
		{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL}: true, {unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS}: true, {unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF}: true}
	unsavedUDPOpts = []unsavedOpt{
		{unix.IPPROTO_UDP, unix.UDP_CORK, "UDP_CORK", false},
		{unix.IPPROTO_UDP, unix.UDP_ENCAP, "UDP_ENCAP", false},
		{unix.IPPROTO_UDP, unix.UDP_NO_CHECK6_TX, "UDP_NO_CHECK6_TX", false},
		{unix.IPPROTO_UDP, unix.UDP_NO_CHECK6_RX, "UDP_NO_CHECK6_RX", false},
		{unix.IPPROTO_UDP, unix.UDP_SEGMENT, "UDP_SEGMENT", false},
		{unix.IPPROTO_UDP, unix.UDP_GRO, "UDP_GRO", false},
	}
)

// checkUnsavedOpts fails if fd has one of opts set otherwise than ref, a
// fresh socket of the same kind. An option fd cannot read is skipped, and
// so is, on a connection (conn), one of connSet.
func checkUnsavedOpts(fd, ref int, conn bool, opts ...[]unsavedOpt) error {
	for _, l := range opts {
		for _, o := range l {
			if conn && connSet[[2]int{o.level, o.opt}] {
				continue
			}
			if o.str {
				v, err := unix.GetsockoptString(fd, o.level, o.opt)
				if err != nil {
					continue
				}
				if w, err := unix.GetsockoptString(ref, o.level, o.opt); err == nil && v != w {
					return fmt.Errorf("%w: socket option %s is %q (a new socket's is %q), which the images cannot hold", errdefs.ErrUnsupported, o.name, v, w)
				}
				continue
			}
			v, err := unix.GetsockoptInt(fd, o.level, o.opt)
			if err != nil {
				continue
			}
			if w, err := unix.GetsockoptInt(ref, o.level, o.opt); err == nil && v != w {
				return fmt.Errorf("%w: socket option %s is %d (a new socket's is %d), which the images cannot hold", errdefs.ErrUnsupported, o.name, v, w)
			}
		}
	}
	return nil
}

// dumpSkOpts reads the SOL_SOCKET options of sk_opts_entry from fd, a
// copy of the task's socket. Buffer sizes are stored as getsockopt
// returns them (twice what was set), as CRIU stores them.
func dumpSkOpts(fd int) (*images.SkOptsEntry, error) {
	var errs []error
	geti := func(name string, opt int) int {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
		// Some options exist for some families only (SO_PASSCRED: UNIX
		// and netlink): those read as unset.
		if err != nil && err != unix.EOPNOTSUPP && err != unix.ENOPROTOOPT {
			errs = append(errs, os.NewSyscallError("getsockopt("+name+")", err))
		}
		return v
	}
	tmo := func(name string, opt int) (uint64, uint64) {
		tv, err := unix.GetsockoptTimeval(fd, unix.SOL_SOCKET, opt)
		if err != nil {
			errs = append(errs, os.NewSyscallError("getsockopt("+name+")", err))
			return 0, 0
		}
		return uint64(tv.Sec), uint64(tv.Usec)
	}
	o := &images.SkOptsEntry{
		SoSndbuf: proto.Uint32(uint32(geti("SO_SNDBUF", unix.SO_SNDBUF))),
		SoRcvbuf: proto.Uint32(uint32(geti("SO_RCVBUF", unix.SO_RCVBUF))),
	}
	s, us := tmo("SO_SNDTIMEO", unix.SO_SNDTIMEO)
	o.SoSndTmoSec, o.SoSndTmoUsec = proto.Uint64(s), proto.Uint64(us)
	s, us = tmo("SO_RCVTIMEO", unix.SO_RCVTIMEO)
	o.SoRcvTmoSec, o.SoRcvTmoUsec = proto.Uint64(s), proto.Uint64(us)
	o.Reuseaddr = proto.Bool(geti("SO_REUSEADDR", unix.SO_REUSEADDR) != 0)
	o.SoReuseport = proto.Bool(geti("SO_REUSEPORT", unix.SO_REUSEPORT) != 0)
	o.SoPriority = proto.Uint32(uint32(geti("SO_PRIORITY", unix.SO_PRIORITY)))
	o.SoRcvlowat = proto.Uint32(uint32(geti("SO_RCVLOWAT", unix.SO_RCVLOWAT)))
	o.SoMark = proto.Uint32(uint32(geti("SO_MARK", unix.SO_MARK)))
	o.SoPasscred = proto.Bool(geti("SO_PASSCRED", unix.SO_PASSCRED) != 0)
	o.SoBroadcast = proto.Bool(geti("SO_BROADCAST", unix.SO_BROADCAST) != 0)
	o.SoKeepalive = proto.Bool(geti("SO_KEEPALIVE", unix.SO_KEEPALIVE) != 0)
	o.SoDontroute = proto.Bool(geti("SO_DONTROUTE", unix.SO_DONTROUTE) != 0)
	o.SoOobinline = proto.Uint32(uint32(geti("SO_OOBINLINE", unix.SO_OOBINLINE)))
	o.SoPasssec = proto.Bool(geti("SO_PASSSEC", unix.SO_PASSSEC) != 0)
	o.SoNoCheck = proto.Bool(geti("SO_NO_CHECK", unix.SO_NO_CHECK) != 0)
	// A classic BPF filter, each instruction as CRIU packs it: code<<48 |
	// jt<<40 | jf<<32 | k.
	if f, err := socketFilter(fd); errors.Is(err, unix.EACCES) {
		// SO_GET_FILTER gives back classic programs only: what is
		// attached is an eBPF program (SO_ATTACH_BPF).
		errs = append(errs, fmt.Errorf("%w: an eBPF socket filter (SO_ATTACH_BPF) is attached, whose program cannot be read back", errdefs.ErrUnsupported))
	} else if err != nil {
		errs = append(errs, err)
	} else {
		for _, in := range f {
			o.SoFilter = append(o.SoFilter, uint64(in.Code)<<48|uint64(in.Jt)<<40|uint64(in.Jf)<<32|uint64(in.K))
		}
	}
	if l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil {
		errs = append(errs, os.NewSyscallError("getsockopt(SO_LINGER)", err))
	} else if l.Onoff != 0 {
		o.SoLinger = proto.Uint32(uint32(l.Linger))
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, soBufLock); err == nil {
		o.SoBufLock = proto.Uint32(uint32(v))
	}
	if dev, err := unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err == nil && dev != "" {
		o.SoBoundDev = proto.String(dev)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// setSkOpts sets the SOL_SOCKET options of o on fd. Buffer sizes were
// saved as getsockopt reports them, twice the size set.
func setSkOpts(fd int, o *images.SkOptsEntry) error {
	if o == nil {
		return nil
	}
	var errs []error
	seti := func(name string, level, opt, v int) {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt("+name+")", err))
		}
	}
	seti("SO_SNDBUFFORCE", unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, int(o.GetSoSndbuf()/2))
	seti("SO_RCVBUFFORCE", unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, int(o.GetSoRcvbuf()/2))
	if o.SoBufLock != nil {
		seti("SO_BUF_LOCK", unix.SOL_SOCKET, soBufLock, int(o.GetSoBufLock()))
	}
	tv := func(name string, opt int, sec, usec uint64) {
		if sec == 0 && usec == 0 {
			return
		}
		t := unix.Timeval{Sec: int64(sec), Usec: int64(usec)}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &t); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt("+name+")", err))
		}
	}
	tv("SO_SNDTIMEO", unix.SO_SNDTIMEO, o.GetSoSndTmoSec(), o.GetSoSndTmoUsec())
	tv("SO_RCVTIMEO", unix.SO_RCVTIMEO, o.GetSoRcvTmoSec(), o.GetSoRcvTmoUsec())
	flag := func(name string, opt int, on bool) {
		if on {
			seti(name, unix.SOL_SOCKET, opt, 1)
		}
	}
	flag("SO_REUSEADDR", unix.SO_REUSEADDR, o.GetReuseaddr())
	flag("SO_REUSEPORT", unix.SO_REUSEPORT, o.GetSoReuseport())
	flag("SO_PASSCRED", unix.SO_PASSCRED, o.GetSoPasscred())
	flag("SO_BROADCAST", unix.SO_BROADCAST, o.GetSoBroadcast())
	flag("SO_KEEPALIVE", unix.SO_KEEPALIVE, o.GetSoKeepalive())
	flag("SO_DONTROUTE", unix.SO_DONTROUTE, o.GetSoDontroute())
	flag("SO_OOBINLINE", unix.SO_OOBINLINE, o.GetSoOobinline() != 0)
	flag("SO_PASSSEC", unix.SO_PASSSEC, o.GetSoPasssec())
	flag("SO_NO_CHECK", unix.SO_NO_CHECK, o.GetSoNoCheck())
	if v := o.GetSoPriority(); v != 0 {
		seti("SO_PRIORITY", unix.SOL_SOCKET, unix.SO_PRIORITY, int(v))
	}
	if v := o.GetSoRcvlowat(); v > 1 {
		seti("SO_RCVLOWAT", unix.SOL_SOCKET, unix.SO_RCVLOWAT, int(v))
	}
	if v := o.GetSoMark(); v != 0 {
		seti("SO_MARK", unix.SOL_SOCKET, unix.SO_MARK, int(v))
	}
	if o.SoLinger != nil {
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: int32(o.GetSoLinger())}); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt(SO_LINGER)", err))
		}
	}
	if dev := o.GetSoBoundDev(); dev != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt(SO_BINDTODEVICE)", err))
		}
	}
	return errors.Join(errs...)
}

// setSkFilter attaches the classic BPF filter of o to fd (CRIU's packing:
// code<<48 | jt<<40 | jf<<32 | k per instruction). It comes after the
// queues are refilled, which it would otherwise filter.
func setSkFilter(fd int, o *images.SkOptsEntry) error {
	img := o.GetSoFilter()
	if len(img) == 0 {
		return nil
	}
	if len(img) > maxFilter {
		return fmt.Errorf("%w: a socket filter of %d instructions", errdefs.ErrBadImage, len(img))
	}
	f := make([]unix.SockFilter, len(img))
	for i, v := range img {
		f[i] = unix.SockFilter{Code: uint16(v >> 48), Jt: uint8(v >> 40), Jf: uint8(v >> 32), K: uint32(v)}
	}
	prog := &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, prog); err != nil {
		return os.NewSyscallError("setsockopt(SO_ATTACH_FILTER)", err)
	}
	return nil
}
