package sockets

import (
	"bytes"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/sockets/skqueue"
	"github.com/criugo/criu/criu/sockets/unixdiag"
	"github.com/criugo/criu/criu/sockets/unixname"
	"github.com/criugo/criu/criu/sockets/unsaved"
	"github.com/criugo/criu/proto/images"
)

// unixSk is one UNIX socket of the tree.
type unixSk struct {
	e     *images.UnixSkEntry
	d     *unixdiag.Socket
	first fdAt // where it was first seen, to name it in errors
	queue []skqueue.Packet
	// inherit: connected outside the tree and named by --ext-unix-sk=INO:
	// restore takes it from --inherit-fd.
	inherit bool
}

// addUnixSk records the UNIX socket open at at, with its options and
// the messages queued for it (read without consuming them).
// cp is this process's copy of the socket.
func (s *Set) addUnixSk(cp int, at fdAt, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	if s.unixDiag == nil {
		var err error
		err = s.t.NetDo(func() error {
			var err error
			s.unixDiag, err = unixdiag.List()
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	ino := uint32(st.Ino)
	ud := s.unixDiag[ino]
	if ud == nil {
		return nil, fmt.Errorf("socket:[%d] is not known to sock_diag", ino)
	}
	id := s.t.FileID()
	opts, err := dumpSkOpts(cp)
	if err != nil {
		return nil, err
	}
	if err := s.checkUnsaved(cp, unix.AF_UNIX, int(ud.Type), 0, false, unsaved.Socket); err != nil {
		return nil, err
	}
	e := &images.UnixSkEntry{
		Id: proto.Uint32(id), Ino: proto.Uint32(ino), Type: proto.Uint32(uint32(ud.Type)), State: proto.Uint32(uint32(ud.State)),
		Flags: proto.Uint32(flags), Uflags: proto.Uint32(0), Backlog: proto.Uint32(0), Peer: proto.Uint32(ud.Peer),
		Fown: image.ZeroFown(), Opts: opts, Name: append([]byte{}, ud.Name...),
	}
	if ud.Shutdown != 0 {
		e.Shutdown = images.SkShutdown(ud.Shutdown & 3).Enum()
	}
	if ud.State == tcpListen {
		e.Backlog = proto.Uint32(ud.WQLen)
	}
	if len(ud.Name) > 0 && ud.Name[0] != 0 {
		path := string(bytes.TrimRight(ud.Name, "\x00"))
		if path[0] != '/' {
			dir, err := unixname.Dir(cp, path, ud.VFSIno)
			if err != nil {
				return nil, fmt.Errorf("socket:[%d]: %w", ino, err)
			}
			e.NameDir = proto.String(dir)
			path = filepath.Join(dir, path)
		}
		// As the task resolves it: in its root (a container's).
		var fst unix.Stat_t
		if err := unix.Stat(procfs.Path(at.pid, "root")+path, &fst); err != nil || uint32(fst.Ino) != ud.VFSIno {
			if err := unixname.Hidden(cp, at.pid, path, e); err != nil {
				return nil, err
			}
		} else {
			e.FilePerms = &images.FilePermsEntry{Mode: proto.Uint32(fst.Mode), Uid: proto.Uint32(fst.Uid), Gid: proto.Uint32(fst.Gid)}
		}
	}
	sk := &unixSk{e: e, d: ud, first: at}
	// A stream or seqpacket socket has a queue only once connected (and
	// reading one that is not gives EINVAL).
	if ud.Type == unix.SOCK_DGRAM || ud.State == tcpEstablished {
		// A pending error (ECONNRESET left by a peer that closed with
		// data unread) would be consumed by the peek, and cannot be set
		// again at restore.
		if perr, err := skqueue.PendingError(cp); err != nil {
			return nil, err
		} else if perr {
			return nil, fmt.Errorf("%w: it has a pending error (its peer closed with data unread)", errdefs.ErrUnsupported)
		}
		if sk.queue, err = skqueue.Peek(cp, id, int(ud.Type), ud.Shutdown, ud.RQLen); err != nil {
			return nil, fmt.Errorf("its queue: %w", err)
		}
	}
	if s.unixByIno == nil {
		s.unixByIno = map[uint32]*unixSk{}
	}
	s.unixByIno[ino] = sk
	s.unixSks = append(s.unixSks, sk)
	return &images.FileEntry{Type: images.FdTypes_UNIXSK.Enum(), Id: proto.Uint32(id), Usk: e}, nil
}

// checkUnix refuses UNIX sockets restore could not rebuild: a peer
// outside the tree, a connection not yet accepted that restore could not
// make again (data sent on it, its client closed or outside the tree),
// queued data that no socket of the tree sent. A connection not yet
// accepted gets its listener as peer (restore connects to it again, as
// CRIU); one whose peer closed (both ways shut down) keeps peer 0.
func (s *Set) checkUnix() error {
	fail := func(sk *unixSk, err error) error { return sk.fail(err) }
	// The listener each connection not yet accepted waits on, by the
	// connecting socket's inode (sock_diag lists a listener's queue by
	// the inodes of the connecting sockets, 0 for one since closed).
	listenerOf := map[uint32]*unixdiag.Socket{}
	for _, ud := range s.unixDiag {
		for _, c := range ud.Icons {
			listenerOf[c] = ud
		}
	}
	for _, sk := range s.unixSks {
		if sk.d.State != tcpListen {
			continue
		}
		var last uint32
		for _, c := range sk.d.Icons {
			if c == 0 {
				return fail(sk, fmt.Errorf("%w: a connection not yet accepted whose client has closed", errdefs.ErrUnsupported))
			}
			cl := s.unixByIno[c]
			if cl == nil {
				return fail(sk, fmt.Errorf("a connection not yet accepted from socket:[%d] %w", c, errdefs.ErrOutside))
			}
			// Restore connects the clients in file id order.
			if id := cl.e.GetId(); id < last {
				return fail(sk, fmt.Errorf("%w: connections not yet accepted in an order restore cannot keep (socket:[%d] connected before a socket opened earlier)", errdefs.ErrUnsupported, c))
			} else {
				last = id
			}
		}
	}
	senders := map[uint32]bool{} // sockets something of the tree sends to
	for _, sk := range s.unixSks {
		if sk.d.Peer == 0 && sk.d.Type != unix.SOCK_DGRAM && sk.d.State == tcpEstablished {
			l := listenerOf[sk.d.Ino]
			switch {
			case l != nil && s.unixByIno[l.Ino] == nil:
				return fail(sk, fmt.Errorf("its connection not yet accepted by socket:[%d] %w", l.Ino, errdefs.ErrOutside))
			case l != nil && sk.d.WQLen != 0:
				return fail(sk, fmt.Errorf("%w: data sent on a connection not yet accepted", errdefs.ErrUnsupported))
			case l != nil:
				sk.e.Peer = proto.Uint32(l.Ino)
			case sk.d.Shutdown&3 != 3:
				return fail(sk, fmt.Errorf("%w: a connection whose peer is gone but which is not shut down", errdefs.ErrUnsupported))
			}
			// Else its peer closed: restore makes it a pair whose other
			// end sends the queued data, then closes.
			continue
		}
		if p := sk.d.Peer; p != 0 {
			peer := s.unixByIno[p]
			if peer == nil {
				if err := s.addExternalUnix(sk); err != nil {
					return fail(sk, err)
				}
				continue
			}
			senders[p] = true
			if sk.d.Type != unix.SOCK_DGRAM && peer.d.Peer != sk.d.Ino {
				return fail(sk, fmt.Errorf("%w: connected to socket:[%d], which is not connected back", errdefs.ErrUnsupported, p))
			}
			// A connection's shutdown reaches both ends (reading on one is
			// writing on the other), except one made before connect(),
			// which restore (shutting down a pair) cannot make.
			// which restore makes so again, connecting it to the
			// listener its peer was accepted from, if the tree holds
			// one (of its name, the only one).
			if m := sk.d.Shutdown & 3; sk.d.Type != unix.SOCK_DGRAM && m&^mirrorShutdown(peer.d.Shutdown&3) != 0 && !s.oneListener(peer) {
				return fail(sk, fmt.Errorf("%w: shut down for %s before it connected: its peer socket:[%d] is not shut down to match (%s), and no one listener of the tree has its name to connect to again", errdefs.ErrUnsupported, shutdownName(m), p, shutdownName(peer.d.Shutdown&3)))
			}
			if sk.d.Type == unix.SOCK_DGRAM && peer.d.Peer != sk.d.Ino && len(peer.d.Name) == 0 {
				return fail(sk, fmt.Errorf("%w: connected to the unnamed socket:[%d]", errdefs.ErrUnsupported, p))
			}
		}
	}
	for _, sk := range s.unixSks {
		if sk.inherit {
			continue
		}
		if sk.d.Type == unix.SOCK_DGRAM {
			if err := s.checkDgramQueue(sk); err != nil {
				return fail(sk, err)
			}
			continue
		}
		closedPeer := sk.d.Peer == 0 && sk.d.State == tcpEstablished
		if len(sk.queue) > 0 && !senders[sk.d.Ino] && !closedPeer {
			return fail(sk, fmt.Errorf("%w: data queued by a socket %w", errdefs.ErrUnsupported, errdefs.ErrOutside))
		}
	}
	return nil
}

// oneListener tells whether exactly one listener of the tree has a's
// type and name (and a has one): the one it was accepted from.
func (s *Set) oneListener(a *unixSk) bool {
	n := 0
	for _, o := range s.unixSks {
		if o.d.State == tcpListen && o.d.Type == a.d.Type && len(a.d.Name) > 0 && bytes.Equal(o.d.Name, a.d.Name) &&
			o.e.GetNameDir() == a.e.GetNameDir() {
			n++
		}
	}
	return n == 1
}

// mirrorShutdown is the shutdown one end of a connection gets from the
// other's: RCV_SHUTDOWN (1) for SEND_SHUTDOWN (2) and back.
func mirrorShutdown(m uint8) uint8 { return m&1<<1 | m&2>>1 }

// shutdownName names shutdown bits: what was shut down.
func shutdownName(m uint8) string {
	return [...]string{"nothing", "reading", "writing", "reading and writing"}[m&3]
}

// addExternalUnix handles sk's peer outside the tree, as CRIU 4.2: a
// socket named by inode (--ext-unix-sk=INO, CRIU's exception list) of
// any kind, with nothing queued, is kept for restore to take from
// --inherit-fd fd[N]:socket:[INO]; with --ext-unix-sk, a datagram socket
// connected to a named peer is kept, and restore connects it to that name
// again. The peer is then written once to files.img as CRIU writes an
// external socket (a datagram listener with its name, uflags
// USK_EXTERN, no fd). Anything else fails the dump.
func (s *Set) addExternalUnix(sk *unixSk) error {
	p := sk.d.Peer
	err := fmt.Errorf("its peer socket:[%d] %w", p, errdefs.ErrOutside)
	hint := fmt.Sprintf("dump with --ext-unix-sk=%d and give it at restore with --inherit-fd fd[N]:socket:[%d]", sk.d.Ino, sk.d.Ino)
	peer := s.unixDiag[p]
	switch {
	case s.opts.ExtUnixInodes[sk.d.Ino]:
		// Named by inode (CRIU's exception): any kind, which restore
		// takes from --inherit-fd as it is, queue included.
		if len(sk.queue) > 0 {
			return fmt.Errorf("%w: --ext-unix-sk=%d: it has data queued, which the socket given at restore would not hold", errdefs.ErrUnsupported, sk.d.Ino)
		}
		sk.inherit = true
	case !s.opts.ExtUnixSk && sk.d.Type == unix.SOCK_DGRAM:
		return fmt.Errorf("%w (dump with --ext-unix-sk to connect to its name again at restore, or %s)", err, hint)
	case !s.opts.ExtUnixSk:
		return fmt.Errorf("%w (%s)", err, hint)
	case sk.d.Type != unix.SOCK_DGRAM:
		return fmt.Errorf("%w (--ext-unix-sk connects only datagram sockets again; for a connection, %s)", err, hint)
	case peer == nil || len(peer.Name) == 0:
		return fmt.Errorf("%w (--ext-unix-sk: it has no name to connect to again)", err)
	case peer.Peer == sk.d.Ino:
		return fmt.Errorf("%w (--ext-unix-sk: it is connected back to this socket, which restore cannot make again)", err)
	}
	if s.unixExt == nil {
		s.unixExt = map[uint32]bool{}
	}
	name := []byte{} // required, even empty
	if peer != nil {
		name = append(name, peer.Name...)
	}
	if !s.unixExt[p] {
		s.unixExt[p] = true
		id := s.t.FileID()
		s.t.AddFile(&images.FileEntry{Type: images.FdTypes_UNIXSK.Enum(), Id: proto.Uint32(id), Usk: &images.UnixSkEntry{
			Id: proto.Uint32(id), Ino: proto.Uint32(p), Type: proto.Uint32(unix.SOCK_DGRAM), State: proto.Uint32(tcpListen),
			Flags: proto.Uint32(0), Uflags: proto.Uint32(uskExtern), Backlog: proto.Uint32(0), Peer: proto.Uint32(0),
			Fown: image.ZeroFown(), Opts: &images.SkOptsEntry{SoSndbuf: proto.Uint32(0), SoRcvbuf: proto.Uint32(0),
				SoSndTmoSec: proto.Uint64(0), SoSndTmoUsec: proto.Uint64(0), SoRcvTmoSec: proto.Uint64(0), SoRcvTmoUsec: proto.Uint64(0)},
			Name: name,
		}})
	}
	return nil
}

// checkDgramQueue refuses datagrams queued on sk that restore could not
// send again from their sender's name. Restore sends each one from the
// socket of the tree bound to that name, or from a socket it binds to
// the name for that send (the sender has closed), or for an unnamed
// sender from sk's unnamed peer or an unnamed socket of its own; sk must
// then be reachable: by name, or as the survivor of a pair whose other
// end closed (that end sends).
func (s *Set) checkDgramQueue(sk *unixSk) error {
	named := len(sk.d.Name) > 0
	var mutual *unixSk
	if p := s.unixByIno[sk.d.Peer]; p != nil && p.d.Peer == sk.d.Ino {
		mutual = p
	}
	// A named socket is established also once something connected to
	// it; an unnamed one only as half of a pair.
	closedPeer := sk.d.Peer == 0 && sk.d.State == tcpEstablished && !named
	for _, p := range sk.queue {
		from := s.dgramByName(p.Addr)
		if from != nil && p.Addr[0] != 0 && p.Addr[0] != '/' && s.dgramsNamed(p.Addr) > 1 {
			return fmt.Errorf("%w: a datagram from the relative name %q, which several sockets of the tree are bound to (in different directories)", errdefs.ErrUnsupported, p.Addr)
		}
		switch {
		case len(p.Addr) == 0 && (named || closedPeer || mutual != nil && len(mutual.d.Name) == 0):
		case len(p.Addr) == 0:
			return fmt.Errorf("%w: a datagram from an unnamed socket queued on an unnamed socket no unnamed socket of the tree is connected to", errdefs.ErrUnsupported)
		case from != nil && (named || from == mutual):
		case from != nil:
			return fmt.Errorf("%w: a datagram from %q queued on an unnamed socket it is not connected to", errdefs.ErrUnsupported, p.Addr)
		case !named:
			return fmt.Errorf("%w: a datagram from the closed socket %q queued on an unnamed socket", errdefs.ErrUnsupported, p.Addr)
		case p.Addr[0] != 0 && p.Addr[0] != '/':
			return fmt.Errorf("%w: a datagram from the closed socket of the relative name %q (the directory it was relative to is not known)", errdefs.ErrUnsupported, p.Addr)
		default:
			// The sender is gone: restore binds a socket to its name
			// for the send, which the name must allow.
			if held := s.nameHeld(p.Addr); held != "" {
				return fmt.Errorf("%w: a datagram from %q, a name held by %s, which restore cannot send from", errdefs.ErrUnsupported, p.Addr, held)
			}
		}
	}
	return nil
}

// dgramByName is the datagram socket of the tree bound to name, if any.
func (s *Set) dgramByName(name []byte) *unixSk {
	if len(name) == 0 {
		return nil
	}
	for _, o := range s.unixSks {
		if o.d.Type == unix.SOCK_DGRAM && bytes.Equal(bytes.TrimRight(o.d.Name, "\x00"), bytes.TrimRight(name, "\x00")) {
			return o
		}
	}
	return nil
}

// dgramsNamed counts the datagram sockets of the tree bound to name.
func (s *Set) dgramsNamed(name []byte) int {
	n := 0
	for _, o := range s.unixSks {
		if o.d.Type == unix.SOCK_DGRAM && bytes.Equal(bytes.TrimRight(o.d.Name, "\x00"), bytes.TrimRight(name, "\x00")) {
			n++
		}
	}
	return n
}

// nameHeld tells what holds a UNIX name, "" if nothing: a socket of the
// namespace (outside the tree: those of the tree were looked up first),
// or for a path a file.
func (s *Set) nameHeld(name []byte) string {
	n := bytes.TrimRight(name, "\x00")
	for _, ud := range s.unixDiag {
		if bytes.Equal(bytes.TrimRight(ud.Name, "\x00"), n) {
			return fmt.Sprintf("socket:[%d] outside the tree", ud.Ino)
		}
	}
	if n[0] == 0 {
		return ""
	}
	var st unix.Stat_t
	if unix.Lstat(string(n), &st) == nil {
		return "a file (its closed sender left it)"
	}
	return ""
}
