package skqueue

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/internal/linux"
)

// rcvShutdown is the kernel's RCV_SHUTDOWN bit of sock_diag's shutdown
// (the peer shut down its writing end).
const rcvShutdown = 1

// Peek reads fd's receive queue without consuming it: SO_PEEK_OFF moves
// past what each MSG_PEEK returned, and is put back afterwards. id is the
// socket's file id (each Packet's IDFor). The descriptors a message
// carries (SCM_RIGHTS) are copied into this process by the peek and kept
// in the packet's Fds (closed by ClosePackets; on error Peek closes
// them); any other control message is refused (ErrUnsupported).
//
// In a stream, a peek returns the bytes up to and including the first
// message that carries descriptors, glued, with its descriptors (the
// kernel gives no way to see where that message began): such a run is
// one packet, sent again at restore as one message with them, as CRIU
// does. A reader that reads the bytes before it in several reads gets the
// descriptors with the first of those reads, where it got them with the
// read that reached the message before.
//
// typ is the socket's type, shut its shutdown bits and rqlen the bytes
// its queue holds, as sock_diag gave them. A peek of an empty message
// (SOCK_DGRAM, SOCK_SEQPACKET) returns 0 bytes and does not move the
// offset on, but marks the message peeked, and the next peek at that
// offset passes over it: so the walk goes on after each. A peek of 0
// bytes is the end only for a stream (its peer shut down), or for a
// seqpacket socket whose peer shut down once every byte of its queue
// (rqlen, the sum of its messages' lengths) has been seen: from there
// the kernel answers 0 for good, and empty messages left at the end read
// as that end of file to the program too.
//
// An empty message marked peeked before (by the program's MSG_PEEK, or
// by an earlier dump of the running tree) is passed over by a peek at
// any offset. At the head of the queue a peek without an offset still
// shows it, and Peek looks there first; further on it cannot be seen
// (nor by CRIU).
func Peek(fd int, id uint32, typ int, shut uint8, rqlen uint32) (out []Packet, err error) {
	orig, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_PEEK_OFF)", err)
	}
	defer unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, orig)
	size, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_RCVBUF)", err)
	}
	pk := &peeker{fd: fd, id: id, typ: typ, buf: make([]byte, max(size, 1<<16)+1),
		// Room for a full SCM_RIGHTS and the credentials and security
		// context a socket may be sent with.
		oob: make([]byte, unix.CmsgSpace(4*scmMaxFd)+unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(256))}
	defer func() {
		if err != nil {
			ClosePackets(out)
			out = nil
		}
	}()
	seqEOF := typ == unix.SOCK_SEQPACKET && shut&rcvShutdown != 0
	if typ != unix.SOCK_STREAM {
		// The head, with no offset (SO_PEEK_OFF -1): an empty message
		// there is marked peeked now if it was not, and the walk below
		// passes over it.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, -1); err != nil {
			return nil, os.NewSyscallError("setsockopt(SO_PEEK_OFF)", err)
		}
		p, ok, err := pk.peek()
		switch {
		case err != nil:
			return nil, err
		case ok && len(p.Data) == 0 && (len(p.Fds) > 0 || !seqEOF || rqlen > 0):
			out = append(out, p)
		case ok:
			ClosePackets([]Packet{p})
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, 0); err != nil {
		return out, os.NewSyscallError("setsockopt(SO_PEEK_OFF)", err)
	}
	total := 0
	for {
		p, ok, err := pk.peek()
		if err != nil || !ok {
			return out, err
		}
		if len(p.Data) == 0 && len(p.Fds) > 0 && typ == unix.SOCK_STREAM {
			// A stream's descriptors come with at least a byte.
			ClosePackets([]Packet{p})
			return out, fmt.Errorf("%w: descriptors (SCM_RIGHTS) with no byte queued on a stream socket", errdefs.ErrUnsupported)
		}
		if len(p.Data) == 0 && len(p.Fds) == 0 && (typ == unix.SOCK_STREAM || seqEOF && total >= int(rqlen)) {
			return out, nil
		}
		total += len(p.Data)
		if total > maxQueue || len(out) >= maxPackets {
			ClosePackets([]Packet{p})
			return out, fmt.Errorf("%w: more than %d bytes or %d messages queued", errdefs.ErrUnsupported, maxQueue, maxPackets)
		}
		out = append(out, p)
	}
}

// peeker peeks one socket's queue, message by message.
type peeker struct {
	fd  int
	id  uint32
	typ int
	buf []byte
	oob []byte
}

// peek peeks the next message (at the socket's peek offset); ok is false
// at the end of the queue (EAGAIN).
func (pk *peeker) peek() (p Packet, ok bool, err error) {
	n, oobn, fl, from, err := unix.Recvmsg(pk.fd, pk.buf, pk.oob, unix.MSG_PEEK|unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err == unix.EAGAIN {
		return p, false, nil
	}
	if err != nil {
		return p, false, os.NewSyscallError("recvmsg(MSG_PEEK)", err)
	}
	var fds []int
	if oobn > 0 {
		if fds, err = parseControl(pk.oob[:oobn]); err != nil {
			return p, false, err
		}
	}
	if fl&unix.MSG_CTRUNC != 0 {
		closeFds(fds)
		return p, false, fmt.Errorf("%w: queued message with control data larger than %d bytes", errdefs.ErrUnsupported, len(pk.oob))
	}
	if fl&unix.MSG_TRUNC != 0 {
		closeFds(fds)
		return p, false, fmt.Errorf("%w: queued message larger than %d bytes", errdefs.ErrUnsupported, len(pk.buf))
	}
	p = Packet{IDFor: pk.id, Data: append([]byte{}, pk.buf[:n]...), Fds: fds}
	if pk.typ == unix.SOCK_DGRAM {
		p.Addr = []byte{}
		if sa, ok := from.(*unix.SockaddrUnix); ok && sa.Name != "" {
			p.Addr = nameBytes(sa.Name)
		}
	}
	return p, true, nil
}

// PendingError reports whether the socket fd has an error pending
// (sk_err), which poll shows as POLLERR without clearing it (a peek
// would consume it).
func PendingError(fd int) (bool, error) {
	p := []unix.PollFd{{Fd: int32(fd)}}
	if _, err := linux.Poll(p, 0); err != nil {
		return false, err
	}
	return p[0].Revents&unix.POLLERR != 0, nil
}

// nameBytes turns x/sys/unix's spelling of a UNIX name ('@' for the
// leading NUL of an abstract one) back into the kernel's bytes.
func nameBytes(name string) []byte {
	if name[0] == '@' {
		return append([]byte{0}, name[1:]...)
	}
	return []byte(name)
}

// parseControl returns the descriptors a peeked message carries
// (SCM_RIGHTS: this process's copies). Any other control message (the
// sender's credentials of SO_PASSCRED, a pidfd, a security context)
// fails, as in CRIU: a message sent again at restore would carry the
// restorer's. On failure every descriptor the peek copied in is closed.
func parseControl(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	var fail error
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_RIGHTS:
			for i := 0; i+4 <= len(m.Data); i += 4 {
				fds = append(fds, int(int32(binary.LittleEndian.Uint32(m.Data[i:]))))
			}
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_PIDFD:
			if len(m.Data) >= 4 {
				unix.Close(int(int32(binary.LittleEndian.Uint32(m.Data))))
			}
			if fail == nil {
				fail = fmt.Errorf("%w: queued messages carry their sender's pidfd (SO_PASSPIDFD)", errdefs.ErrUnsupported)
			}
		case fail != nil:
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_CREDENTIALS:
			fail = fmt.Errorf("%w: queued messages carry their sender's credentials (SO_PASSCRED), which restore cannot send again", errdefs.ErrUnsupported)
		default:
			fail = fmt.Errorf("%w: queued messages carry control data (level %d type %d)", errdefs.ErrUnsupported, m.Header.Level, m.Header.Type)
		}
	}
	if fail != nil {
		closeFds(fds)
		return nil, fail
	}
	if len(fds) > scmMaxFd {
		closeFds(fds)
		return nil, fmt.Errorf("%w: a queued message carries %d descriptors", errdefs.ErrUnsupported, len(fds))
	}
	return fds, nil
}
