package sockets

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

// MPTCP (IPPROTO_MPTCP, 262) sockets: what Go ≥ 1.24's net.Listen makes
// by default. A listening or closed one is saved as a TCP one is, in an
// inetsk entry with proto 262, and made again with
// socket(family, SOCK_STREAM, IPPROTO_MPTCP). The kernel answers TCP_INFO
// and the TCP options of an MPTCP socket from its first subflow, so the
// state, the backlog and the options are read as TCP's. A connection
// cannot be saved: the kernel has no repair mode for MPTCP (TCP_REPAIR
// on an MPTCP socket answers ENOPROTOOPT, Linux 6.18), so it is refused.

// streamProto tells the inet stream protocols, whose TCP options
// (tcp_opts) are saved: TCP and MPTCP.
func streamProto(protocol int) bool {
	return protocol == unix.IPPROTO_TCP || protocol == unix.IPPROTO_MPTCP
}

// mptcpState returns the state and backlog of the MPTCP socket cp, bound
// at sa, connected to peer (nil if not connected), and refuses a
// connection and a listener with connections not yet accepted.
func (s *Set) mptcpState(cp int, sa, peer unix.Sockaddr) (state, backlog uint32, err error) {
	ti, err := unix.GetsockoptTCPInfo(cp, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, 0, os.NewSyscallError("getsockopt(TCP_INFO)", err)
	}
	switch state = uint32(ti.State); state {
	case tcpListen:
		if err := s.checkInFlight(ti, sa); err != nil {
			return 0, 0, err
		}
		return state, ti.Sacked, nil
	case tcpClose:
		return state, 0, nil
	}
	return 0, 0, fmt.Errorf("%w: MPTCP connection %s -> %s (state %d): the kernel has no repair mode for MPTCP (TCP_REPAIR: ENOPROTOOPT)",
		errdefs.ErrUnsupported, addrString(sa), addrString(peer), state)
}

// checkInFlight refuses a TCP or MPTCP listener (its TCP_INFO ti, bound
// at sa) with connections not yet accepted, unless Options.SkipInFlight
// drops them: their clients are outside the tree (a client inside it is
// an established connection, refused on its own), and the handshakes
// cannot be made again. CRIU 4.2 refuses them likewise unless
// --tcp-skip-in-flight.
func (s *Set) checkInFlight(ti *unix.TCPInfo, sa unix.Sockaddr) error {
	// A listener's tcpi_unacked is its accept queue (sk_ack_backlog).
	if ti.Unacked == 0 || s.opts.SkipInFlight {
		return nil
	}
	return fmt.Errorf("%w: listener %s has %d connection(s) not yet accepted (in flight; --skip-in-flight drops them)",
		errdefs.ErrUnsupported, addrString(sa), ti.Unacked)
}
