package inetdiag

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets/sockdiag"
)

// inet_diag request and reply layout (include/uapi/linux/inet_diag.h).
const (
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagShutdown = 8  // INET_DIAG_SHUTDOWN, sent with every reply
	// INET_DIAG_REQ_PROTOCOL: a request attribute carrying a protocol
	// number past a byte (MPTCP's 262) as a u32.
	inetDiagReqProtocol = 3
)

// Shutdowns asks sock_diag for every socket of family and protocol
// (TCP, UDP, UDP-Lite, MPTCP) of this network namespace in any state, and
// returns each one's shutdown bits by inode.
func Shutdowns(family, protocol int) (map[uint32]uint8, error) {
	le := binary.LittleEndian
	req := make([]byte, inetDiagReqLen)
	req[0], req[1] = byte(family), byte(protocol)
	le.PutUint32(req[4:], ^uint32(0)) // every state
	// The socket id (ports, addresses, interface, cookie) stays zero: a
	// dump request matches every socket.
	le.PutUint32(req[48:], ^uint32(0))
	le.PutUint32(req[52:], ^uint32(0))
	if protocol > 0xff {
		req = le.AppendUint16(req, unix.SizeofRtAttr+4)
		req = le.AppendUint16(req, inetDiagReqProtocol)
		req = le.AppendUint32(req, uint32(protocol))
	}
	out := map[uint32]uint8{}
	err := sockdiag.Dump(req, func(m []byte) error {
		ino, shut, err := parse(m)
		if err != nil {
			return err
		}
		out[ino] = shut
		return nil
	})
	return out, err
}

// parse returns the inode and shutdown bits of one inet_diag_msg.
func parse(b []byte) (ino uint32, shut uint8, err error) {
	le := binary.LittleEndian
	if len(b) < inetDiagMsgLen {
		return 0, 0, fmt.Errorf("sock_diag: short inet_diag_msg (%d bytes)", len(b))
	}
	ino = le.Uint32(b[68:])
	err = sockdiag.Attrs(b[inetDiagMsgLen:], func(typ uint16, v []byte) {
		if typ == inetDiagShutdown && len(v) > 0 {
			shut = v[0]
		}
	})
	if err != nil {
		return 0, 0, err
	}
	return ino, shut, nil
}
