package unixdiag

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets/sockdiag"
)

// Socket is what sock_diag tells of one UNIX socket
// (include/uapi/linux/unix_diag.h).
type Socket struct {
	Ino      uint32
	Type     uint8
	State    uint8
	Name     []byte // nil: unbound; a leading NUL: abstract
	VFSIno   uint32 // inode of the bound file, 0 if none
	VFSDev   uint32
	Peer     uint32   // ino of the peer, 0 if none
	Icons    []uint32 // a listener's connections not yet accepted
	RQLen    uint32   // receive queue (a listener: connections waiting)
	WQLen    uint32   // a listener: its backlog
	Shutdown uint8
	HasIcons bool
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

// List asks sock_diag for every UNIX socket of this network
// namespace, by inode.
func List() (map[uint32]*Socket, error) {
	le := binary.LittleEndian
	req := make([]byte, unixDiagReqLen)
	req[0] = unix.AF_UNIX
	le.PutUint32(req[4:], ^uint32(0)) // every state
	le.PutUint32(req[12:], udiagShowName|udiagShowVFS|udiagShowPeer|udiagShowIcons|udiagShowRQLen)
	le.PutUint32(req[16:], ^uint32(0)) // no cookie
	le.PutUint32(req[20:], ^uint32(0))
	out := map[uint32]*Socket{}
	err := sockdiag.Dump(req, func(m []byte) error {
		d, err := parse(m)
		if err != nil {
			return err
		}
		out[d.Ino] = d
		return nil
	})
	return out, err
}

func parse(b []byte) (*Socket, error) {
	le := binary.LittleEndian
	if len(b) < unixDiagMsgLen {
		return nil, fmt.Errorf("sock_diag: short unix_diag_msg (%d bytes)", len(b))
	}
	d := &Socket{Type: b[1], State: b[2], Ino: le.Uint32(b[4:])}
	err := sockdiag.Attrs(b[unixDiagMsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unixDiagName:
			d.Name = append([]byte{}, v...)
		case unixDiagVFS:
			if len(v) >= 8 {
				d.VFSIno, d.VFSDev = le.Uint32(v), le.Uint32(v[4:])
			}
		case unixDiagPeer:
			if len(v) >= 4 {
				d.Peer = le.Uint32(v)
			}
		case unixDiagIcons:
			d.HasIcons = true
			for i := 0; i+4 <= len(v); i += 4 {
				d.Icons = append(d.Icons, le.Uint32(v[i:]))
			}
		case unixDiagRQLen:
			if len(v) >= 8 {
				d.RQLen, d.WQLen = le.Uint32(v), le.Uint32(v[4:])
			}
		case unixDiagShutdown:
			if len(v) >= 1 {
				d.Shutdown = v[0]
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
