package dump

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
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
	unixDiagShutdown = 6 // sent with every reply
	sockDiagByFamily = 20
	unixDiagMsgLen   = 16 // struct unix_diag_msg
	unixDiagReqLen   = 24 // struct unix_diag_req
)

// listUnixSockets asks sock_diag for every UNIX socket of this network
// namespace, by inode.
func listUnixSockets() (map[uint32]*unixDiag, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, os.NewSyscallError("socket(NETLINK_SOCK_DIAG)", err)
	}
	defer unix.Close(fd)
	le := binary.LittleEndian
	req := make([]byte, unix.NLMSG_HDRLEN+unixDiagReqLen)
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[4:], sockDiagByFamily)
	le.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	le.PutUint32(req[8:], 1) // seq
	b := req[unix.NLMSG_HDRLEN:]
	b[0] = unix.AF_UNIX
	le.PutUint32(b[4:], ^uint32(0)) // every state
	le.PutUint32(b[12:], udiagShowName|udiagShowVFS|udiagShowPeer|udiagShowIcons|udiagShowRQLen)
	le.PutUint32(b[16:], ^uint32(0)) // no cookie
	le.PutUint32(b[20:], ^uint32(0))
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto(sock_diag)", err)
	}
	out := map[uint32]*unixDiag{}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, os.NewSyscallError("recvfrom(sock_diag)", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("parse sock_diag reply: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(le.Uint32(m.Data)); e != 0 {
						return nil, os.NewSyscallError("sock_diag", unix.Errno(-e))
					}
				}
				continue
			}
			d, err := parseUnixDiag(m.Data)
			if err != nil {
				return nil, err
			}
			out[d.ino] = d
		}
	}
}

func parseUnixDiag(b []byte) (*unixDiag, error) {
	le := binary.LittleEndian
	if len(b) < unixDiagMsgLen {
		return nil, fmt.Errorf("sock_diag: short unix_diag_msg (%d bytes)", len(b))
	}
	d := &unixDiag{typ: b[1], state: b[2], ino: le.Uint32(b[4:])}
	for a := b[unixDiagMsgLen:]; len(a) >= unix.SizeofRtAttr; {
		l := int(le.Uint16(a))
		if l < unix.SizeofRtAttr || l > len(a) {
			return nil, fmt.Errorf("sock_diag: bad attribute length %d", l)
		}
		v := a[unix.SizeofRtAttr:l]
		switch le.Uint16(a[2:]) {
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
		al := (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if al >= len(a) {
			break
		}
		a = a[al:]
	}
	return d, nil
}

// inet_diag request and reply layout (include/uapi/linux/inet_diag.h).
const (
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagShutdown = 8  // INET_DIAG_SHUTDOWN, sent with every reply
)

// listInetShutdown asks sock_diag for every socket of family and protocol
// (TCP, UDP, UDP-Lite) of this network namespace in any state, and
// returns each one's shutdown bits by inode.
func listInetShutdown(family, protocol int) (map[uint32]uint8, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, os.NewSyscallError("socket(NETLINK_SOCK_DIAG)", err)
	}
	defer unix.Close(fd)
	le := binary.LittleEndian
	req := make([]byte, unix.NLMSG_HDRLEN+inetDiagReqLen)
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[4:], sockDiagByFamily)
	le.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	le.PutUint32(req[8:], 1)
	b := req[unix.NLMSG_HDRLEN:]
	b[0], b[1] = byte(family), byte(protocol)
	le.PutUint32(b[4:], ^uint32(0)) // every state
	// The socket id (ports, addresses, interface, cookie) stays zero: a
	// dump request matches every socket.
	le.PutUint32(b[48:], ^uint32(0))
	le.PutUint32(b[52:], ^uint32(0))
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto(sock_diag)", err)
	}
	out := map[uint32]uint8{}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, os.NewSyscallError("recvfrom(sock_diag)", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("parse sock_diag reply: %w", err)
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(le.Uint32(m.Data)); e != 0 {
						return nil, os.NewSyscallError("sock_diag", unix.Errno(-e))
					}
				}
				continue
			}
			ino, shut, err := parseInetDiag(m.Data)
			if err != nil {
				return nil, err
			}
			out[ino] = shut
		}
	}
}

// parseInetDiag returns the inode and shutdown bits of one inet_diag_msg.
func parseInetDiag(b []byte) (ino uint32, shut uint8, err error) {
	le := binary.LittleEndian
	if len(b) < inetDiagMsgLen {
		return 0, 0, fmt.Errorf("sock_diag: short inet_diag_msg (%d bytes)", len(b))
	}
	ino = le.Uint32(b[68:])
	for a := b[inetDiagMsgLen:]; len(a) >= unix.SizeofRtAttr; {
		l := int(le.Uint16(a))
		if l < unix.SizeofRtAttr || l > len(a) {
			return 0, 0, fmt.Errorf("sock_diag: bad attribute length %d", l)
		}
		if le.Uint16(a[2:]) == inetDiagShutdown && l > unix.SizeofRtAttr {
			shut = a[unix.SizeofRtAttr]
		}
		al := (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if al >= len(a) {
			break
		}
		a = a[al:]
	}
	return ino, shut, nil
}
