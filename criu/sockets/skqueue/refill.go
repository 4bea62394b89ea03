package skqueue

import (
	"bytes"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Sockaddr is the sockaddr of a UNIX socket's image name: x/sys/unix
// spells an abstract name (a leading NUL) with a leading '@'.
func Sockaddr(name []byte) *unix.SockaddrUnix {
	if len(name) > 0 && name[0] == 0 {
		return &unix.SockaddrUnix{Name: "@" + string(name[1:])}
	}
	return &unix.SockaddrUnix{Name: string(bytes.TrimRight(name, "\x00"))}
}

// Refiller queues again, in the restorer, what was queued on the UNIX
// sockets of the tree.
type Refiller struct {
	Queues Queues
	// Sks are the sockets made, ByIno the same by inode, Fds the
	// restorer's fd of each by inode.
	Sks   []*images.UnixSkEntry
	ByIno map[uint32]*images.UnixSkEntry
	Fds   map[uint32]int
	// Partners are the stand-in ends of connections whose peer had
	// closed, by the survivor's inode: they send its queue.
	Partners map[uint32]int
	// FdOf is the restorer's description of a file passed in a message
	// (SCM_RIGHTS), by file id: a socket of Sks or another master.
	FdOf func(id uint32) (int, bool)
	// InDir runs a send to a socket by its name where the name resolves
	// (a relative one from its directory); nil: here.
	InDir func(e *images.UnixSkEntry, fn func() error) error
	// Reach is the name to send to, by inode, for a socket whose own
	// name is another's now (a link to its file); the others are sent
	// to by their name.
	Reach map[uint32][]byte
}

// Refill queues again what was queued on each socket of Sks (Fds
// by ino), sent by the socket that sent it. Names are bound, no datagram
// socket is connected yet (one connected to another takes datagrams from
// that one only). A message that carried descriptors (SCM_RIGHTS) is
// sent with the restorer's description of each file (FdOf).
//
// A stream or seqpacket queue was sent by the peer (the other end of the
// pair; for a connection whose peer closed, the stand-in end in
// Partners). A datagram names its sender (addr): the datagram socket of
// sks bound to that name, else a socket bound to it for the send and
// closed (the sender had closed); an unnamed sender is the receiver's
// unnamed peer, the stand-in end, or an unnamed socket of ours. A
// datagram of an image that names no sender (CRIU's) is sent as CRIU
// does, by the receiver's peer or a socket connected to it.
//
// A datagram socket connected to a socket that is not connected back
// took datagrams from that one only since it connected: the datagrams
// after the last one another sent are sent once it is connected again
// (connected, so from its peer, which the receive queue's limit then
// does not hold back), when called with connected; the others before.
func (r *Refiller) Refill(connected bool) error {
	queues, sks, byIno, fds, partners, fdOf := r.Queues, r.Sks, r.ByIno, r.Fds, r.Partners, r.FdOf
	mutual := func(e *images.UnixSkEntry) *images.UnixSkEntry {
		if p := byIno[e.GetPeer()]; p != nil && e.GetPeer() != 0 && p != e && p.GetPeer() == e.GetIno() {
			return p
		}
		return nil
	}
	byName := map[string]*images.UnixSkEntry{}
	for _, e := range sks {
		if e.GetType() == unix.SOCK_DGRAM && len(e.GetName()) > 0 {
			byName[string(bytes.TrimRight(e.GetName(), "\x00"))] = e
		}
	}
	unnamed := -1
	defer func() {
		if unnamed >= 0 {
			unix.Close(unnamed)
		}
	}()
	for _, e := range sks {
		q := queues[e.GetId()]
		split := len(q)
		if p := byIno[e.GetPeer()]; e.GetType() == unix.SOCK_DGRAM && p != nil && mutual(e) == nil && len(p.GetName()) > 0 {
			pn := bytes.TrimRight(p.GetName(), "\x00")
			for split = len(q); split > 0; split-- {
				if a := q[split-1].Addr; a == nil || !bytes.Equal(bytes.TrimRight(a, "\x00"), pn) {
					break
				}
			}
		}
		if connected {
			q = q[split:]
		} else {
			q = q[:split]
		}
		if len(q) == 0 {
			continue
		}
		fail := func(err error) error { return fmt.Errorf("socket:[%d]: refill queue: %w", e.GetIno(), err) }
		stream := e.GetType() == unix.SOCK_STREAM
		var to unix.Sockaddr
		if r, ok := r.Reach[e.GetIno()]; ok {
			to = Sockaddr(r)
		} else if len(e.GetName()) > 0 {
			to = Sockaddr(e.GetName())
		}
		// peerFd is the socket whose writes reach e without a name.
		peerFd := -1
		if fd, ok := partners[e.GetIno()]; ok {
			peerFd = fd
		} else if p := mutual(e); p != nil {
			peerFd = fds[p.GetIno()]
		}
		send := func() error {
			for _, pk := range q {
				oob, err := rightsOf(pk, fdOf)
				if err != nil {
					return fail(err)
				}
				switch {
				case e.GetType() != unix.SOCK_DGRAM || pk.Addr == nil:
					from := peerFd
					if from < 0 {
						for _, o := range sks {
							if o.GetPeer() == e.GetIno() {
								from = fds[o.GetIno()]
								break
							}
						}
					}
					if from < 0 {
						return fmt.Errorf("%w: socket:[%d] has queued data and no sender", errdefs.ErrBadImage, e.GetIno())
					}
					if from == peerFd || to == nil {
						err = sendMsg(from, pk.Data, oob, stream, nil)
					} else {
						err = sendMsg(from, pk.Data, oob, false, to)
					}
				case len(pk.Addr) == 0 && peerFd >= 0 && (partners[e.GetIno()] == peerFd || len(mutual(e).GetName()) == 0):
					err = sendMsg(peerFd, pk.Data, oob, false, nil)
				case len(pk.Addr) == 0 && to != nil:
					if unnamed < 0 {
						if unnamed, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
							return fail(os.NewSyscallError("socket", err))
						}
					}
					err = sendMsg(unnamed, pk.Data, oob, false, to)
				case len(pk.Addr) == 0:
					return fmt.Errorf("%w: socket:[%d]: a datagram from an unnamed sender and no way to send it", errdefs.ErrBadImage, e.GetIno())
				case byName[string(bytes.TrimRight(pk.Addr, "\x00"))] != nil:
					s := byName[string(bytes.TrimRight(pk.Addr, "\x00"))]
					if mutual(e) == s || to == nil {
						err = sendMsg(fds[s.GetIno()], pk.Data, oob, false, nil)
					} else {
						err = sendMsg(fds[s.GetIno()], pk.Data, oob, false, to)
					}
				case to != nil:
					err = sendFromName(pk.Addr, pk.Data, oob, to)
				default:
					return fmt.Errorf("%w: socket:[%d]: a datagram from %q and no way to send it", errdefs.ErrBadImage, e.GetIno(), pk.Addr)
				}
				if err != nil {
					return fail(err)
				}
			}
			return nil
		}
		var err error
		if to != nil && r.InDir != nil {
			err = r.InDir(e, send)
		} else {
			err = send()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rightsOf is the SCM_RIGHTS control message of pk's descriptors (nil
// for none), each the restorer's description of the file (fdOf).
func rightsOf(pk Packet, fdOf func(uint32) (int, bool)) ([]byte, error) {
	if len(pk.Rights) == 0 {
		return nil, nil
	}
	fds := make([]int, len(pk.Rights))
	for i, id := range pk.Rights {
		fd, ok := fdOf(id)
		if !ok {
			return nil, fmt.Errorf("%w: file %d, passed in a queued message (SCM_RIGHTS), is not open in the restorer", errdefs.ErrUnsupported, id)
		}
		fds[i] = fd
	}
	return unix.UnixRights(fds...), nil
}

// sendFromName sends one datagram to to from a socket bound for the send
// to name (the name of a sender that has closed); a path's file is
// removed again.
func sendFromName(name, b, oob []byte, to unix.Sockaddr) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	sa := Sockaddr(name)
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind %q: %w", sa.Name, os.NewSyscallError("bind", err))
	}
	if name[0] != 0 {
		defer unix.Unlink(sa.Name)
	}
	return sendMsg(fd, b, oob, false, to)
}

// sendMsg sends b on fd (to to, if not nil) with the control data oob
// (passed descriptors): a stream in as many writes as it takes, oob with
// the first, a message in one. The socket is non-blocking; a full buffer
// is an error.
func sendMsg(fd int, b, oob []byte, stream bool, to unix.Sockaddr) error {
	if len(b) == 0 && len(oob) > 0 && to == nil {
		// Descriptors alone (a datagram or seqpacket message of no
		// bytes), which SendmsgN would send with a byte.
		return linux.SendEmpty(fd, oob, unix.MSG_DONTWAIT)
	}
	for {
		n, err := unix.SendmsgN(fd, b, oob, to, unix.MSG_DONTWAIT)
		if err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		if !stream || n == len(b) {
			if n != len(b) {
				return fmt.Errorf("short message write: %d of %d bytes", n, len(b))
			}
			return nil
		}
		b, oob = b[n:], nil
	}
}
