package sockets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/sockets/inetdiag"
	"github.com/criugo/criu/criu/sockets/raw"
	"github.com/criugo/criu/criu/sockets/soccr"
	"github.com/criugo/criu/criu/sockets/unsaved"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// addInetSk records an IPv4 or IPv6 TCP, MPTCP or UDP socket that is
// not connected (TCP, MPTCP: closed or listening; UDP: any), or a raw
// one (raw_sk.go). cp is this process's copy of it.
func (s *Set) addInetSk(cp int, st *unix.Stat_t, flags uint32, family int) (*images.FileEntry, error) {
	typ, err := unix.GetsockoptInt(cp, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_TYPE)", err)
	}
	protocol, err := unix.GetsockoptInt(cp, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_PROTOCOL)", err)
	}
	sa, err := unix.Getsockname(cp)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	src, srcPort := inetAddr(sa)
	peer, perr := unix.Getpeername(cp)
	// Unconnected: zero words, as CRIU writes (its restore wants both
	// addresses of one length).
	dst, dstPort := make([]uint32, len(src)), uint32(0)
	if perr == nil {
		dst, dstPort = inetAddr(peer)
	}
	state := uint32(tcpClose)
	backlog := uint32(0)
	conn := false // an established TCP connection, saved with TCP repair
	// handshake: what a connection set (TCP_MAXSEG...) is not compared
	// (conn, or a TCP socket closed after one).
	handshake := false
	closedConn := false // closed by the kernel (tcp_done): shut down both ways
	switch {
	case typ == unix.SOCK_STREAM && protocol == unix.IPPROTO_TCP:
		ti, err := unix.GetsockoptTCPInfo(cp, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return nil, os.NewSyscallError("getsockopt(TCP_INFO)", err)
		}
		state = uint32(ti.State)
		// Closed after a connection (a RST, or both FINs) or connecting,
		// a socket keeps its peer's address for SO_PEERNAME only.
		if pa, ok := peerName(cp, family); ok && perr != nil && (state == tcpClose || state == soccr.StateSynSent) {
			peer = pa
			dst, dstPort = inetAddr(pa)
		}
		switch state {
		case tcpListen:
			backlog = ti.Sacked // sk_max_ack_backlog of a listener
			if err := s.checkInFlight(ti, sa); err != nil {
				return nil, err
			}
		case tcpClose:
			// Closed after a connection: --tcp-close saves it as a
			// connection, to be made a new socket shut down both ways;
			// else it is saved in repair mode (there is no connection
			// left to lock or to break), as CRIU 4.2, and made again
			// in its state (restore needs --tcp-established).
			if dstPort != 0 {
				handshake = true
				closedConn = s.opts.TCPClose
				conn = !closedConn
			}
		default:
			if err := refuseTCP(sa, peer, state, s.opts.TCPEstablished || s.opts.TCPClose); err != nil {
				return nil, err
			}
			conn, handshake = true, true
		}
	case typ == unix.SOCK_STREAM && protocol == unix.IPPROTO_MPTCP:
		if state, backlog, err = s.mptcpState(cp, sa, peer); err != nil {
			return nil, err
		}
	case typ == unix.SOCK_DGRAM && (protocol == unix.IPPROTO_UDP || protocol == unix.IPPROTO_UDPLITE):
		if perr == nil {
			state = tcpEstablished
		}
	case typ == unix.SOCK_DGRAM && pingProto(family, protocol):
		if state, err = s.pingState(family, uint32(st.Ino)); err != nil {
			return nil, err
		}
		if state == tcpEstablished && perr != nil {
			dst, _ = inetAddr(rawSockaddr(s.pingSks[family][uint32(st.Ino)].Dst)) // a peer of port 0
		}
	case typ == unix.SOCK_RAW:
		rd, err := s.rawDiag(family, uint32(st.Ino))
		if err != nil {
			return nil, err
		}
		// getpeername does not answer for a raw socket: its peer has
		// no port.
		if state = uint32(rd.State); state == tcpEstablished {
			dst, _ = inetAddr(rawSockaddr(rd.Dst))
		}
	default:
		return nil, fmt.Errorf("%w: inet socket type %d protocol %d", errdefs.ErrUnsupported, typ, protocol)
	}
	if err := refusePendingError(cp, sa, peer); err != nil {
		return nil, err
	}
	opts, err := dumpSkOpts(cp)
	if err != nil {
		return nil, err
	}
	lists := [][]unsaved.Opt{unsaved.Socket, unsaved.IP}
	if family == unix.AF_INET6 {
		lists = append(lists, unsaved.IPv6, unsaved.IPOfIPv6)
	}
	switch {
	case typ == unix.SOCK_RAW:
		lists = rawUnsaved(lists)
	case streamProto(protocol):
		lists = append(lists, unsaved.TCP)
	case pingProto(family, protocol):
	default:
		lists = append(lists, unsaved.UDP)
	}
	if err := s.checkUnsaved(cp, family, typ, protocol, handshake, lists...); err != nil {
		return nil, fmt.Errorf("%s: %w", addrString(sa), err)
	}
	if typ != unix.SOCK_STREAM {
		if err := s.mcast.Refuse(cp, family, s.t.NetDo); err != nil {
			return nil, fmt.Errorf("%s: %w", addrString(sa), err)
		}
	}
	var shut uint8
	if typ == unix.SOCK_RAW {
		shut, err = s.rawShutdown(cp, family, uint32(st.Ino))
		if err != nil {
			return nil, err
		}
	} else if shut, err = s.inetShutdown(cp, family, protocol, uint32(st.Ino)); err != nil {
		return nil, err
	}
	id := s.t.FileID()
	e := &images.InetSkEntry{
		Id: proto.Uint32(id), Ino: proto.Uint32(uint32(st.Ino)), Family: proto.Uint32(uint32(family)),
		Type: proto.Uint32(uint32(typ)), Proto: proto.Uint32(uint32(protocol)), State: proto.Uint32(state),
		SrcPort: proto.Uint32(srcPort), DstPort: proto.Uint32(dstPort), Flags: proto.Uint32(flags),
		Backlog: proto.Uint32(backlog), SrcAddr: src, DstAddr: dst, Fown: image.ZeroFown(), Opts: opts,
		IpOpts: &images.IpOptsEntry{},
	}
	if family == unix.AF_INET6 {
		v, err := unix.GetsockoptInt(cp, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		if err != nil {
			return nil, os.NewSyscallError("getsockopt(IPV6_V6ONLY)", err)
		}
		e.V6Only = proto.Bool(v != 0)
		if v, err := unix.GetsockoptInt(cp, unix.IPPROTO_IPV6, ipv6Freebind); err == nil {
			e.IpOpts.Freebind = proto.Bool(v != 0)
		}
		// CRIU keeps IPV6_RECVPKTINFO in pktinfo for IPv6.
		if v, err := unix.GetsockoptInt(cp, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO); err == nil {
			e.IpOpts.Pktinfo = proto.Bool(v != 0)
		}
	} else {
		if v, err := unix.GetsockoptInt(cp, unix.IPPROTO_IP, unix.IP_FREEBIND); err == nil {
			e.IpOpts.Freebind = proto.Bool(v != 0)
		}
		if v, err := unix.GetsockoptInt(cp, unix.IPPROTO_IP, unix.IP_TOS); err == nil {
			e.IpOpts.Tos = proto.Uint32(uint32(v))
		}
	}
	if v, err := unix.GetsockoptInt(cp, unix.IPPROTO_IP, unix.IP_TTL); err == nil && family == unix.AF_INET {
		e.IpOpts.Ttl = proto.Uint32(uint32(v))
	}
	if family == unix.AF_INET {
		if v, err := unix.GetsockoptInt(cp, unix.IPPROTO_IP, unix.IP_PKTINFO); err == nil {
			e.IpOpts.Pktinfo = proto.Bool(v != 0)
		}
	}
	if closedConn {
		shut = 3
	}
	if shut != 0 {
		e.Shutdown = images.SkShutdown(shut & 3).Enum()
	}
	if typ == unix.SOCK_RAW {
		if e.IpOpts.Raw, err = raw.DumpOpts(cp, family, protocol); err != nil {
			return nil, err
		}
	}
	if streamProto(protocol) && typ == unix.SOCK_STREAM {
		if e.TcpOpts, err = soccr.DumpOpts(cp); err != nil {
			return nil, err
		}
	}
	if conn && (s.opts.TCPEstablished || state == tcpClose) {
		saved, err := s.addTCPConn(cp, uint32(st.Ino), family, sa, peer, opts.GetReuseaddr())
		if err != nil {
			return nil, err
		}
		e.State = proto.Uint32(saved) // a FIN may have come since TCP_INFO
	}
	return &images.FileEntry{Type: images.FdTypes_INETSK.Enum(), Id: proto.Uint32(id), Isk: e}, nil
}

// refusePendingError refuses the inet socket fd (from sa to peer) if it
// has an error to report (POLLERR: sk_err, as a TCP reset, a refused
// connect or a timeout leave it, or an ICMP error on a connected UDP
// socket): SO_ERROR would tell which only by clearing it, which a dump
// that fails or leaves the tree running must not do, and no image has
// a field for it (CRIU 4.2 drops it). Nothing else raises POLLERR on
// them but an error queue, whose options are refused already
// (SO_TIMESTAMPING, SO_ZEROCOPY, IP_RECVERR).
func refusePendingError(fd int, sa, peer unix.Sockaddr) error {
	p := []unix.PollFd{{Fd: int32(fd)}}
	if _, err := linux.Poll(p, 0); err != nil {
		return err
	}
	if p[0].Revents&unix.POLLERR == 0 {
		return nil
	}
	return fmt.Errorf("%s -> %s: %w: a socket with an error not yet reported to its task (SO_ERROR: a reset, a refused connect, a timeout), which reading would clear and no image holds", addrString(sa), addrString(peer), errdefs.ErrUnsupported)
}

// checkUnsaved compares fd's options that the images cannot hold with
// those of a fresh socket of the same kind made in the tree's network
// namespace (checkUnsavedOpts).
func (s *Set) checkUnsaved(fd, family, typ, protocol int, conn bool, opts ...[]unsaved.Opt) error {
	ref := -1
	err := s.t.NetDo(func() error {
		var err error
		ref, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, protocol)
		return err
	})
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(ref)
	return unsaved.Check(fd, ref, conn, opts...)
}

// inetShutdown tells how the inet socket ino (open at fd) was shut down
// (sock_diag's INET_DIAG_SHUTDOWN: RCV_SHUTDOWN 1, SEND_SHUTDOWN 2). The
// sockets of a family and protocol are listed once per dump.
func (s *Set) inetShutdown(fd, family, protocol int, ino uint32) (uint8, error) {
	k := [2]int{family, protocol}
	m, ok := s.inetShut[k]
	if !ok {
		err := s.t.NetDo(func() error {
			var err error
			m, err = inetdiag.Shutdowns(family, protocol)
			return err
		})
		// A kernel without inet_diag for the protocol (ENOENT): every
		// socket is asked with poll.
		if errors.Is(err, unix.ENOENT) {
			err = nil
		}
		if err != nil {
			return 0, err
		}
		if s.inetShut == nil {
			s.inetShut = map[[2]int]map[uint32]uint8{}
		}
		s.inetShut[k] = m
	}
	if v, ok := m[ino]; ok {
		return v, nil
	}
	// Not hashed (neither bound nor connected), so not listed.
	return pollShutdown(fd, protocol == unix.IPPROTO_TCP || protocol == unix.IPPROTO_MPTCP)
}

// pollShutdown tells how the socket fd was shut down as poll shows it:
// a read shutdown (POLLRDHUP) and both (POLLHUP), not a write shutdown
// alone, which no interface but sock_diag shows. A TCP socket (tcp)
// never connected is in state CLOSE, which polls POLLHUP whatever its
// shutdown: only its read shutdown shows (a write one, alone or with
// it, does not; CRIU 4.2 sees neither).
func pollShutdown(fd int, tcp bool) (uint8, error) {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	if _, err := linux.Poll(p, 0); err != nil {
		return 0, err
	}
	switch {
	case p[0].Revents&unix.POLLHUP != 0 && !tcp:
		return 3, nil
	case p[0].Revents&unix.POLLRDHUP != 0:
		return 1, nil
	}
	return 0, nil
}

// peerName is the peer address SO_PEERNAME gives, which it keeps for a
// TCP socket closed after its connection (getpeername: ENOTCONN). The
// buffer is the family's sockaddr exactly (a longer one is EINVAL).
func peerName(fd, family int) (unix.Sockaddr, bool) {
	b := make([]byte, unix.SizeofSockaddrInet4)
	if family == unix.AF_INET6 {
		b = make([]byte, unix.SizeofSockaddrInet6)
	}
	n, err := linux.GetsockoptInOut(fd, unix.SOL_SOCKET, unix.SO_PEERNAME, b)
	if err != nil || n < unix.SizeofSockaddrInet4 {
		return nil, false
	}
	port := int(binary.BigEndian.Uint16(b[2:]))
	switch binary.LittleEndian.Uint16(b) {
	case unix.AF_INET:
		return &unix.SockaddrInet4{Port: port, Addr: [4]byte(b[4:8])}, port != 0
	case unix.AF_INET6:
		if n >= unix.SizeofSockaddrInet6 {
			return &unix.SockaddrInet6{Port: port, Addr: [16]byte(b[8:24])}, port != 0
		}
	}
	return nil, false
}

// inetAddr turns a socket address into CRIU's form: the address bytes in
// network order read as little-endian u32 words (1 for IPv4, 4 for
// IPv6), and the port.
func inetAddr(sa unix.Sockaddr) ([]uint32, uint32) {
	var b []byte
	var port int
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		b, port = a.Addr[:], a.Port
	case *unix.SockaddrInet6:
		b, port = a.Addr[:], a.Port
	default:
		return nil, 0
	}
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w, uint32(port)
}

func addrString(sa unix.Sockaddr) string {
	if p := soccr.AddrPort(sa); p.IsValid() {
		return p.String()
	}
	return "?"
}
