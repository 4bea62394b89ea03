package sockets

import (
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets/raw"
)

// pingProto reports whether a SOCK_DGRAM socket of family and protocol
// is an ICMP "ping" socket (net.ipv4.ping_group_range). It is saved as
// a UDP one is, in an inet_sk_entry of its protocol, as CRIU 4.2 saves
// it; its bound port is its echo identifier.
func pingProto(family, protocol int) bool {
	return (family == unix.AF_INET && protocol == unix.IPPROTO_ICMP) ||
		(family == unix.AF_INET6 && protocol == unix.IPPROTO_ICMPV6)
}

// pingState is the state (TCP_CLOSE or TCP_ESTABLISHED: connected) of
// the ping socket ino of family, from /proc/net/icmp (icmp6) of the
// tree's network namespace, read once per family and dump.
func (s *Set) pingState(family int, ino uint32) (uint32, error) {
	m, ok := s.pingSks[family]
	if !ok {
		err := s.t.NetDo(func() error {
			var err error
			m, err = raw.ListPing(family)
			return err
		})
		if err != nil {
			return 0, err
		}
		if s.pingSks == nil {
			s.pingSks = map[int]map[uint32]*raw.Diag{}
		}
		s.pingSks[family] = m
	}
	if d := m[ino]; d != nil {
		return uint32(d.State), nil
	}
	return tcpClose, nil // neither bound nor connected: not listed
}
