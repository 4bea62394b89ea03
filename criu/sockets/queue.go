package sockets

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// skPacket is one message (or, for a stream socket, a run of bytes) of a
// socket's receive queue: an SkPacketEntry of QueuesImage and its bytes.
type skPacket struct {
	idFor uint32 // file id of the socket it is queued on
	data  []byte
	// addr is a datagram's sender name as the kernel gives it (a
	// leading NUL: abstract; empty: unnamed); nil for a stream, and
	// where the image names no sender (CRIU's images).
	addr []byte
}

// rcvShutdown is the kernel's RCV_SHUTDOWN bit of sock_diag's shutdown
// (the peer shut down its writing end).
const rcvShutdown = 1

// maxPackets caps the messages of one socket's receive queue (an empty
// datagram takes no bytes).
const maxPackets = 1 << 20

// maxQueue caps the bytes of one socket's receive queue: read at dump,
// queued again at restore.
const maxQueue = 64 << 20

// peekQueue reads fd's receive queue without consuming it: SO_PEEK_OFF
// moves past what each MSG_PEEK returned, and is put back afterwards.
// A queue holding passed descriptors (SCM_RIGHTS) is refused.
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
// as that end of file to the program too. (An empty message peeked
// before, by the program or a dump that let the tree run on, is passed
// over by the peek at any offset and cannot be seen, as in CRIU.)
func peekQueue(fd int, id uint32, typ int, shut uint8, rqlen uint32) ([]skPacket, error) {
	dgram := typ == unix.SOCK_DGRAM
	orig, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_PEEK_OFF)", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, 0); err != nil {
		return nil, os.NewSyscallError("setsockopt(SO_PEEK_OFF)", err)
	}
	defer unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, orig)
	size, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_RCVBUF)", err)
	}
	buf := make([]byte, max(size, 1<<16)+1)
	oob := make([]byte, unix.CmsgSpace(64))
	var out []skPacket
	total := 0
	for {
		n, oobn, fl, from, err := unix.Recvmsg(fd, buf, oob, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return out, nil
		}
		if err != nil {
			return nil, os.NewSyscallError("recvmsg(MSG_PEEK)", err)
		}
		if oobn > 0 {
			if err := refuseRights(oob[:oobn]); err != nil {
				return nil, err
			}
		}
		if fl&unix.MSG_CTRUNC != 0 {
			return nil, fmt.Errorf("%w: queued message with control data", errdefs.ErrUnsupported)
		}
		if fl&unix.MSG_TRUNC != 0 {
			return nil, fmt.Errorf("%w: queued message larger than %d bytes", errdefs.ErrUnsupported, len(buf))
		}
		if n == 0 && (typ == unix.SOCK_STREAM || typ == unix.SOCK_SEQPACKET && shut&rcvShutdown != 0 && total >= int(rqlen)) {
			return out, nil
		}
		total += n
		if total > maxQueue || len(out) >= maxPackets {
			return nil, fmt.Errorf("%w: more than %d bytes or %d messages queued", errdefs.ErrUnsupported, maxQueue, maxPackets)
		}
		p := skPacket{idFor: id, data: append([]byte{}, buf[:n]...)}
		if dgram {
			p.addr = []byte{}
			if sa, ok := from.(*unix.SockaddrUnix); ok && sa.Name != "" {
				p.addr = unixNameBytes(sa.Name)
			}
		}
		out = append(out, p)
	}
}

// pendingError reports whether the socket fd has an error pending
// (sk_err), which poll shows as POLLERR without clearing it.
func pendingError(fd int) (bool, error) {
	p := []unix.PollFd{{Fd: int32(fd)}}
	if _, err := linux.Poll(p, 0); err != nil {
		return false, err
	}
	return p[0].Revents&unix.POLLERR != 0, nil
}

// unixNameBytes turns x/sys/unix's spelling of a UNIX name ('@' for the
// leading NUL of an abstract one) back into the kernel's bytes.
func unixNameBytes(name string) []byte {
	if name[0] == '@' {
		return append([]byte{0}, name[1:]...)
	}
	return []byte(name)
}

// refuseRights closes descriptors a peek copied in and fails: passing
// descriptors through a socket is not saved yet. Any other control
// message (the sender's credentials of SO_PASSCRED, a pidfd, a security
// context) fails too, as in CRIU: a message sent again at restore would
// carry the restorer's.
func refuseRights(oob []byte) error {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fmt.Errorf("parse control message: %w", err)
	}
	var fail error
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_RIGHTS:
			for i := 0; i+4 <= len(m.Data); i += 4 {
				unix.Close(int(int32(binary.LittleEndian.Uint32(m.Data[i:]))))
			}
			fail = fmt.Errorf("%w: descriptors in flight (SCM_RIGHTS)", errdefs.ErrUnsupported)
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
	return fail
}

// Write writes QueuesImage (when a message is queued on a socket of the
// tree): each queued message as an SkPacketEntry followed by its bytes.
// The sockets' entries go to files.img with the fds (Add, Check).
func (s *Set) Write(ctx context.Context, store image.Store) error {
	if err := s.writeTCP(ctx, store); err != nil {
		return err
	}
	var pkts []skPacket
	for _, sk := range s.unixSks {
		pkts = append(pkts, sk.queue...)
	}
	if len(pkts) == 0 {
		return nil
	}
	return image.WriteEntries(ctx, store, QueuesImage, func(enc *image.Encoder, payload io.Writer) error {
		for _, p := range pkts {
			if err := enc.Encode(&images.SkPacketEntry{IdFor: proto.Uint32(p.idFor), Length: proto.Uint32(uint32(len(p.data))), Addr: p.addr}); err != nil {
				return err
			}
			if _, err := payload.Write(p.data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Queues are the messages queued on sockets, by the file id of the
// socket they are queued on, in order (QueuesImage, read by ReadQueues).
type Queues map[uint32][]skPacket

// ReadQueues reads QueuesImage; no image is no message queued.
func ReadQueues(ctx context.Context, s image.Store) (Queues, error) {
	out := Queues{}
	const name = QueuesImage
	total := map[uint32]int{}
	_, err := image.ReadEach(ctx, s, name, func() *images.SkPacketEntry { return &images.SkPacketEntry{} }, func(e *images.SkPacketEntry, dec *image.Decoder) error {
		if len(e.GetScm()) > 0 {
			return fmt.Errorf("%w: %s: control messages queued on socket %d", errdefs.ErrUnsupported, name, e.GetIdFor())
		}
		total[e.GetIdFor()] += int(e.GetLength())
		if total[e.GetIdFor()] > maxQueue {
			return fmt.Errorf("%w: %s: more than %d bytes queued on socket %d", errdefs.ErrBadImage, name, maxQueue, e.GetIdFor())
		}
		b, err := dec.Payload(int64(e.GetLength()))
		if err != nil {
			return err
		}
		if len(e.Addr) > len(unix.RawSockaddrUnix{}.Path) {
			return fmt.Errorf("%w: %s: a sender name of %d bytes", errdefs.ErrBadImage, name, len(e.Addr))
		}
		out[e.GetIdFor()] = append(out[e.GetIdFor()], skPacket{idFor: e.GetIdFor(), data: b, addr: e.Addr})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
