package sockets

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets/sockdiag"
)

// unixDiag is what sock_diag tells of one UNIX socket
// (include/uapi/linux/unix_diag.h).
type unixDiag struct {
	ino      uint32
	typ      uint8
	state    uint8
	name     []byte // nil: unbound; a leading NUL: abstract
	vfsIno   uint32 // inode of the bound file, 0 if none
	vfsDev   uint32
	peer     uint32   // ino of the peer, 0 if none
	icons    []uint32 // a listener's connections not yet accepted
	rqlen    uint32   // receive queue (a listener: connections waiting)
	wqlen    uint32   // a listener: its backlog
	shutdown uint8
	hasIcons bool
}

// unix_diag request bits and attributes.
const (
	udiagShowName    = 0x01
	udiagShowVFS     = 0x02
	udiagShowPeer    = 0x04
	udiagShowIcons   = 0x08
	udiagShowRQLen   = 0x10
	unixDiagName     = 0
	unixDiagVFS      = 1
	unixDiagPeer     = 2
	unixDiagIcons    = 3
	unixDiagRQLen    = 4
	unixDiagShutdown = 6  // sent with every reply
	unixDiagMsgLen   = 16 // struct unix_diag_msg
	unixDiagReqLen   = 24 // struct unix_diag_req
)

// listUnixSockets asks sock_diag for every UNIX socket of this network
// namespace, by inode.
func listUnixSockets() (map[uint32]*unixDiag, error) {
	le := binary.LittleEndian
	req := make([]byte, unixDiagReqLen)
	req[0] = unix.AF_UNIX
	le.PutUint32(req[4:], ^uint32(0)) // every state
	le.PutUint32(req[12:], udiagShowName|udiagShowVFS|udiagShowPeer|udiagShowIcons|udiagShowRQLen)
	le.PutUint32(req[16:], ^uint32(0)) // no cookie
	le.PutUint32(req[20:], ^uint32(0))
	out := map[uint32]*unixDiag{}
	err := sockdiag.Dump(req, func(m []byte) error {
		d, err := parseUnixDiag(m)
		if err != nil {
			return err
		}
		out[d.ino] = d
		return nil
	})
	return out, err
}

func parseUnixDiag(b []byte) (*unixDiag, error) {
	le := binary.LittleEndian
	if len(b) < unixDiagMsgLen {
		return nil, fmt.Errorf("sock_diag: short unix_diag_msg (%d bytes)", len(b))
	}
	d := &unixDiag{typ: b[1], state: b[2], ino: le.Uint32(b[4:])}
	err := sockdiag.Attrs(b[unixDiagMsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unixDiagName:
			d.name = append([]byte{}, v...)
		case unixDiagVFS:
			if len(v) >= 8 {
				d.vfsIno, d.vfsDev = le.Uint32(v), le.Uint32(v[4:])
			}
		case unixDiagPeer:
			if len(v) >= 4 {
				d.peer = le.Uint32(v)
			}
		case unixDiagIcons:
			d.hasIcons = true
			for i := 0; i+4 <= len(v); i += 4 {
				d.icons = append(d.icons, le.Uint32(v[i:]))
			}
		case unixDiagRQLen:
			if len(v) >= 8 {
				d.rqlen, d.wqlen = le.Uint32(v), le.Uint32(v[4:])
			}
		case unixDiagShutdown:
			if len(v) >= 1 {
				d.shutdown = v[0]
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// inet_diag request and reply layout (include/uapi/linux/inet_diag.h).
const (
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagShutdown = 8  // INET_DIAG_SHUTDOWN, sent with every reply
	// INET_DIAG_REQ_PROTOCOL: a request attribute carrying a protocol
	// number past a byte (MPTCP's 262) as a u32.
	inetDiagReqProtocol = 3
)

// listInetShutdown asks sock_diag for every socket of family and protocol
// (TCP, UDP, UDP-Lite, MPTCP) of this network namespace in any state, and
// returns each one's shutdown bits by inode.
func listInetShutdown(family, protocol int) (map[uint32]uint8, error) {
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
		ino, shut, err := parseInetDiag(m)
		if err != nil {
			return err
		}
		out[ino] = shut
		return nil
	})
	return out, err
}

// parseInetDiag returns the inode and shutdown bits of one inet_diag_msg.
func parseInetDiag(b []byte) (ino uint32, shut uint8, err error) {
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
