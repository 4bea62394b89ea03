package dump

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// ipv6Freebind is IPV6_FREEBIND (Linux 4.15), not in x/sys/unix.
const ipv6Freebind = 78

// addSocket records the socket open at fd, by family.
func (d *dumper) addSocket(fd int, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	cp, err := getFd(d.pid, fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(cp)
	family, err := unix.GetsockoptInt(cp, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_DOMAIN)", err)
	}
	switch family {
	case unix.AF_UNIX:
		return d.addUnixSk(cp, fd, st, flags)
	case unix.AF_INET, unix.AF_INET6:
		return d.addInetSk(cp, st, flags, family)
	}
	return nil, fmt.Errorf("%w: socket family %d", ErrUnsupported, family)
}

// addInetSk records an IPv4 or IPv6 TCP or UDP socket that is not
// connected (TCP: closed or listening; UDP: any). cp is this process's
// copy of it.
func (d *dumper) addInetSk(cp int, st *unix.Stat_t, flags uint32, family int) (*images.FileEntry, error) {
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
	var dst []uint32
	var dstPort uint32
	if perr == nil {
		dst, dstPort = inetAddr(peer)
	}
	state := uint32(tcpClose)
	backlog := uint32(0)
	switch {
	case typ == unix.SOCK_STREAM && protocol == unix.IPPROTO_TCP:
		ti, err := unix.GetsockoptTCPInfo(cp, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return nil, os.NewSyscallError("getsockopt(TCP_INFO)", err)
		}
		state = uint32(ti.State)
		switch state {
		case tcpListen:
			backlog = ti.Sacked // sk_max_ack_backlog of a listener
		case tcpClose:
		default:
			return nil, fmt.Errorf("%s -> %s (state %d): %w", addrString(sa), addrString(peer), state, ErrTCPEstablished)
		}
	case typ == unix.SOCK_DGRAM && (protocol == unix.IPPROTO_UDP || protocol == unix.IPPROTO_UDPLITE):
		if perr == nil {
			state = tcpEstablished
		}
	default:
		return nil, fmt.Errorf("%w: inet socket type %d protocol %d", ErrUnsupported, typ, protocol)
	}
	opts, err := dumpSkOpts(cp)
	if err != nil {
		return nil, err
	}
	id := d.files.id()
	e := &images.InetSkEntry{
		Id: proto.Uint32(id), Ino: proto.Uint32(uint32(st.Ino)), Family: proto.Uint32(uint32(family)),
		Type: proto.Uint32(uint32(typ)), Proto: proto.Uint32(uint32(protocol)), State: proto.Uint32(state),
		SrcPort: proto.Uint32(srcPort), DstPort: proto.Uint32(dstPort), Flags: proto.Uint32(flags),
		Backlog: proto.Uint32(backlog), SrcAddr: src, DstAddr: dst, Fown: zeroFown(), Opts: opts,
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
	if protocol == unix.IPPROTO_TCP {
		nd, err := unix.GetsockoptInt(cp, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		if err != nil {
			return nil, os.NewSyscallError("getsockopt(TCP_NODELAY)", err)
		}
		e.TcpOpts = &images.TcpOptsEntry{Nodelay: proto.Bool(nd != 0)}
	}
	return &images.FileEntry{Type: images.FdTypes_INETSK.Enum(), Id: proto.Uint32(id), Isk: e}, nil
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
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return "?"
}
