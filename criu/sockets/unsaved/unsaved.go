// Package unsaved lists the socket options CRIU's images have no field
// for, by level, and refuses a socket that has one set otherwise than a
// new socket of its kind (Check): restore could not set it again. Package
// sockets asks it for every socket it dumps.
package unsaved

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

// Opt is a socket option the images have no field for: a socket
// whose value differs from a fresh socket's (same family, type and
// protocol, in the same network namespace) fails the dump by name.
type Opt struct {
	level, opt int
	name       string
	str        bool // read as a string (TCP_CONGESTION), else an int
}

// Options the images cannot hold, by level. Not listed because they are
// state the kernel keeps moving, not settings: SO_INCOMING_CPU,
// TCP_TIMESTAMP, TCP_QUICKACK. Not readable at all: an eBPF filter
// (SO_ATTACH_BPF; SO_GET_FILTER answers EACCES, and the dump is refused),
// multicast memberships (no getsockopt lists them: package mcast asks
// about each group of the namespace, and the dump is refused).
var (
	Socket = []Opt{
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
	IP = []Opt{
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
	IPOfIPv6 = []Opt{
		{unix.IPPROTO_IP, unix.IP_TOS, "IP_TOS", false},
		{unix.IPPROTO_IP, unix.IP_TTL, "IP_TTL", false},
		{unix.IPPROTO_IP, unix.IP_PKTINFO, "IP_PKTINFO", false},
	}
	IPv6 = []Opt{
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
	TCP = []Opt{
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
	// SOL_PACKET options of a packet socket that CRIU's
	// packet_sock_entry has no field for.
	Packet = []Opt{
		{unix.SOL_PACKET, unix.PACKET_TX_HAS_OFF, "PACKET_TX_HAS_OFF", false},
		{unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, "PACKET_QDISC_BYPASS", false},
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, "PACKET_IGNORE_OUTGOING", false},
	}
	// Options of a raw socket the images cannot hold, past those of
	// its family.
	Raw = []Opt{
		{unix.IPPROTO_IPV6, unix.IPV6_CHECKSUM, "IPV6_CHECKSUM", false},
	}
	UDP = []Opt{
		{unix.IPPROTO_UDP, unix.UDP_CORK, "UDP_CORK", false},
		{unix.IPPROTO_UDP, unix.UDP_ENCAP, "UDP_ENCAP", false},
		{unix.IPPROTO_UDP, unix.UDP_NO_CHECK6_TX, "UDP_NO_CHECK6_TX", false},
		{unix.IPPROTO_UDP, unix.UDP_NO_CHECK6_RX, "UDP_NO_CHECK6_RX", false},
		{unix.IPPROTO_UDP, unix.UDP_SEGMENT, "UDP_SEGMENT", false},
		{unix.IPPROTO_UDP, unix.UDP_GRO, "UDP_GRO", false},
	}
)

// IsNodefrag reports whether o is IP_NODEFRAG, which a raw socket's
// entry holds (ip_opts_raw_entry) and other sockets' do not.
func IsNodefrag(o Opt) bool { return o.level == unix.IPPROTO_IP && o.opt == unix.IP_NODEFRAG }

// Check fails if fd has one of opts set otherwise than ref, a fresh
// socket of the same kind. An option fd cannot read is skipped, and so
// is, on a connection (conn), one of connSet.
func Check(fd, ref int, conn bool, opts ...[]Opt) error {
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
			if w, err := unix.GetsockoptInt(ref, o.level, o.opt); err == nil && v != w && !sameEffect(o, v, w) {
				return fmt.Errorf("%w: socket option %s is %d (a new socket's is %d), which the images cannot hold", errdefs.ErrUnsupported, o.name, v, w)
			}
		}
	}
	return nil
}

// sameEffect reports whether two values of option o that differ act
// alike: TCP_NOTSENT_LOWAT 0 stands for the namespace's
// net.ipv4.tcp_notsent_lowat, so a socket that has that value set
// explicitly (an MPTCP listener's accepted TCP fallback has UINT_MAX,
// the sysctl's default) behaves as a new socket with 0 does.
func sameEffect(o Opt, v, w int) bool {
	if o.level != unix.IPPROTO_TCP || o.opt != unix.TCP_NOTSENT_LOWAT || (v != 0 && w != 0) {
		return false
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_notsent_lowat")
	if err != nil {
		return false
	}
	def, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return false
	}
	set := uint32(v | w) // the one that is not 0
	return set == uint32(def)
}
