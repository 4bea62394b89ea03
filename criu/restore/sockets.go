package restore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// Socket states (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpListen      = 10
)

// soBufLock is SO_BUF_LOCK (Linux 5.14), not in x/sys/unix.
const soBufLock = 72

// ipv6Freebind is IPV6_FREEBIND, not in x/sys/unix.
const ipv6Freebind = 78

// maxSkQueue caps the bytes queued on one socket.
const maxSkQueue = 64 << 20

// skPacket is one queued message of sk-queues.img.
type skPacket struct {
	data []byte
	// addr is a datagram's sender name (empty: unnamed), nil where the
	// image names no sender (CRIU's images).
	addr []byte
}

// readSkQueues reads sk-queues.img: the queued messages by the file id of
// the socket they are queued on, in order.
func readSkQueues(ctx context.Context, s image.Store) (map[uint32][]skPacket, error) {
	out := map[uint32][]skPacket{}
	const name = "sk-queues.img"
	rd, err := s.Open(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	dec, err := image.NewDecoder(bufio.NewReader(rd), name)
	if err != nil {
		return nil, err
	}
	total := map[uint32]int{}
	for {
		e := &images.SkPacketEntry{}
		err := dec.Decode(e)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(e.GetScm()) > 0 {
			return nil, fmt.Errorf("%w: %s: control messages queued on socket %d", ErrUnsupported, name, e.GetIdFor())
		}
		total[e.GetIdFor()] += int(e.GetLength())
		if total[e.GetIdFor()] > maxSkQueue {
			return nil, fmt.Errorf("%w: %s: more than %d bytes queued on socket %d", ErrBadImage, name, maxSkQueue, e.GetIdFor())
		}
		w := &sliceWriter{b: make([]byte, 0, e.GetLength())}
		if err := dec.CopyPayload(w, int64(e.GetLength())); err != nil {
			return nil, err
		}
		if len(e.Addr) > len(unix.RawSockaddrUnix{}.Path) {
			return nil, fmt.Errorf("%w: %s: a sender name of %d bytes", ErrBadImage, name, len(e.Addr))
		}
		out[e.GetIdFor()] = append(out[e.GetIdFor()], skPacket{data: w.b, addr: e.Addr})
	}
}

// unixName is the sockaddr of a UNIX socket's image name: x/sys/unix
// spells an abstract name (a leading NUL) with a leading '@'.
func unixName(name []byte) *unix.SockaddrUnix {
	if len(name) > 0 && name[0] == 0 {
		return &unix.SockaddrUnix{Name: "@" + string(name[1:])}
	}
	return &unix.SockaddrUnix{Name: string(bytes.TrimRight(name, "\x00"))}
}

// openUnix creates the UNIX sockets of files (ids of UNIXSK entries) in
// the restorer: each connected pair with socketpair, the others with
// socket, then binds, listens, connects datagram sockets to their peer,
// sets options, refills queues (sent by the socket that sent them: the
// peer), shuts down and sets file flags, in that order.
func (t *treeRestorer) openUnix(ids []uint32) error {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	byIno := map[uint32]*images.UnixSkEntry{}
	var sks []*images.UnixSkEntry
	for _, id := range ids {
		e := t.ti.files[id].GetUsk()
		if e == nil {
			return fmt.Errorf("%w: file %d: no unix socket entry", ErrBadImage, id)
		}
		byIno[e.GetIno()] = e
		sks = append(sks, e)
	}
	fds := map[uint32]int{} // by ino
	keep := func(fd int) { t.masterFds = append(t.masterFds, fd) }
	// A connection whose peer had closed is made a pair; the other end
	// (by the survivor's ino) sends the survivor's queue, then closes.
	partners := map[uint32]int{}
	defer func() {
		for _, fd := range partners {
			unix.Close(fd)
		}
	}()
	mutual := func(e *images.UnixSkEntry) *images.UnixSkEntry {
		if p := byIno[e.GetPeer()]; p != nil && e.GetPeer() != 0 && p.GetPeer() == e.GetIno() {
			return p
		}
		return nil
	}
	// A socket given with --inherit-fd fd[N]:socket:[INO] is criu's fd N
	// (its description, as it is: nothing of the images is set on it).
	var own []*images.UnixSkEntry
	for _, e := range sks {
		in, ok := t.inheritedFd(fmt.Sprintf("socket:[%d]", e.GetIno()))
		if !ok {
			own = append(own, e)
			continue
		}
		if p := mutual(e); p != nil {
			if _, ok := t.opts.InheritFd[fmt.Sprintf("socket:[%d]", p.GetIno())]; !ok {
				return fmt.Errorf("%w: socket:[%d] is given with --inherit-fd, its peer socket:[%d] of the tree is not", ErrUnsupported, e.GetIno(), p.GetIno())
			}
		}
		fd, err := dupInherited(in)
		if err != nil {
			return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
		}
		keep(fd)
		t.masters[e.GetId()] = fd
	}
	sks = own
	for _, e := range sks {
		if _, ok := fds[e.GetIno()]; ok {
			continue
		}
		typ := int(e.GetType()) | unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
		if closedPeer(e) {
			pair, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
			if err != nil {
				return fmt.Errorf("socket:[%d]: %w", e.GetIno(), os.NewSyscallError("socketpair", err))
			}
			keep(pair[0])
			fds[e.GetIno()], partners[e.GetIno()] = pair[0], pair[1]
			continue
		}
		if p := mutual(e); p != nil {
			pair, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
			if err != nil {
				return fmt.Errorf("socket:[%d]: %w", e.GetIno(), os.NewSyscallError("socketpair", err))
			}
			keep(pair[0])
			keep(pair[1])
			fds[e.GetIno()], fds[p.GetIno()] = pair[0], pair[1]
			continue
		}
		fd, err := unix.Socket(unix.AF_UNIX, typ, 0)
		if err != nil {
			return fmt.Errorf("socket:[%d]: %w", e.GetIno(), os.NewSyscallError("socket", err))
		}
		keep(fd)
		fds[e.GetIno()] = fd
	}
	// Bind. Sockets sharing a name (a listener and the connections it
	// accepted, sockets whose file was deleted and the one holding the
	// path now) bind in turn, the live one last, the file of each but the
	// last unlinked so the next can bind; an abstract name is bound by
	// the listener only.
	groups := map[string][]*images.UnixSkEntry{}
	var names []string
	for _, e := range sks {
		if len(e.GetName()) == 0 {
			continue
		}
		k := string(e.GetName())
		if groups[k] == nil {
			names = append(names, k)
		}
		groups[k] = append(groups[k], e)
	}
	var unlinkLater []string
	// ghostDirs are directories made for deleted sockets' paths, removed
	// (deepest first) once their files are unlinked; putBack moves back
	// what stood at such a path.
	var ghostDirs []string
	var putBack []func() error
	defer func() {
		for _, f := range putBack {
			f()
		}
		for i := len(ghostDirs) - 1; i >= 0; i-- {
			unix.Rmdir(ghostDirs[i])
		}
	}()
	for _, k := range names {
		g := groups[k]
		// The socket whose file is live binds last and keeps it:
		// connections (sharing their listener's name) and sockets whose
		// file was deleted (the path may be another's now) bind first.
		last := func(e *images.UnixSkEntry) bool {
			accepted := e.GetType() != unix.SOCK_DGRAM && e.GetState() == tcpEstablished
			return !accepted && !e.GetDeleted()
		}
		sort.SliceStable(g, func(i, j int) bool { return !last(g[i]) && last(g[j]) })
		abstract := k[0] == 0
		if abstract && len(g) > 1 {
			g = g[len(g)-1:]
		}
		// A group of deleted sockets only: whatever is at the path now
		// is not the tree's, and is put back after.
		ghosts := !abstract && !last(g[len(g)-1])
		for i, e := range g {
			sa := unixName(e.GetName())
			if ghosts && i == 0 {
				restorePath, err := bindGhostPath(sa.Name, &ghostDirs)
				if err != nil {
					return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
				}
				putBack = append(putBack, restorePath)
			} else if !abstract && !ghosts {
				if err := removeStaleSocket(sa.Name); err != nil {
					return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
				}
			}
			if err := unix.Bind(fds[e.GetIno()], sa); err != nil {
				return fmt.Errorf("socket:[%d]: bind %q: %w", e.GetIno(), sa.Name, os.NewSyscallError("bind", err))
			}
			if abstract {
				continue
			}
			if p := e.GetFilePerms(); p != nil {
				if err := os.Chmod(sa.Name, os.FileMode(p.GetMode()&0o777)); err != nil {
					return err
				}
				if err := os.Lchown(sa.Name, int(p.GetUid()), int(p.GetGid())); err != nil {
					return err
				}
			}
			if i < len(g)-1 {
				if err := unix.Unlink(sa.Name); err != nil {
					return os.NewSyscallError("unlink", err)
				}
			} else if e.GetDeleted() {
				unlinkLater = append(unlinkLater, sa.Name)
			}
		}
	}
	for _, e := range sks {
		if e.GetState() == tcpListen {
			if err := unix.Listen(fds[e.GetIno()], int(e.GetBacklog())); err != nil {
				return fmt.Errorf("socket:[%d]: %w", e.GetIno(), os.NewSyscallError("listen", err))
			}
		}
	}
	if err := refillQueues(t.ti.skQueues, sks, byIno, fds, partners, false); err != nil {
		return err
	}
	// External sockets (outside the dumped tree, CRIU's USK_EXTERN): the
	// entries with no fd, by inode.
	ext := map[uint32]*images.UnixSkEntry{}
	for _, f := range t.ti.files {
		if e := f.GetUsk(); e != nil && e.GetUflags()&uskExtern != 0 {
			ext[e.GetIno()] = e
		}
	}
	// A datagram socket connected to a socket that is not connected back
	// (of the tree, or external), and a connection not yet accepted (its
	// peer is the listener): each connects by name, in file id order (the
	// order of the accept queue). Listeners are listening and names are
	// still bound.
	for _, e := range sks {
		p := byIno[e.GetPeer()]
		if e.GetPeer() == 0 || mutual(e) != nil {
			continue
		}
		// As CRIU 4.2, an external peer needs no --ext-unix-sk at
		// restore: the dump was given it. A connection to one is not
		// made again (it would be a new connection): it must be given.
		if x := ext[e.GetPeer()]; p == nil && x != nil {
			if e.GetType() != unix.SOCK_DGRAM {
				return fmt.Errorf("%w: socket:[%d] is connected to the external socket:[%d]: give it with --inherit-fd fd[N]:socket:[%d]", ErrUnsupported, e.GetIno(), x.GetIno(), e.GetIno())
			}
			p = x
		}
		if p == nil || len(p.GetName()) == 0 {
			return fmt.Errorf("%w: socket:[%d]: its peer socket:[%d] cannot be reached by name", ErrBadImage, e.GetIno(), e.GetPeer())
		}
		if err := unix.Connect(fds[e.GetIno()], unixName(p.GetName())); err != nil {
			return fmt.Errorf("socket:[%d]: connect to socket:[%d]: %w", e.GetIno(), p.GetIno(), os.NewSyscallError("connect", err))
		}
	}
	if err := refillQueues(t.ti.skQueues, sks, byIno, fds, partners, true); err != nil {
		return err
	}
	for _, name := range unlinkLater {
		if err := unix.Unlink(name); err != nil {
			return os.NewSyscallError("unlink", err)
		}
	}
	for _, f := range putBack {
		if err := f(); err != nil {
			return err
		}
	}
	putBack = nil
	for i := len(ghostDirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(ghostDirs[i]); err != nil {
			return os.NewSyscallError("rmdir", err)
		}
	}
	ghostDirs = nil
	for _, e := range sks {
		if err := setSkOpts(fds[e.GetIno()], e.GetOpts()); err != nil {
			return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
		}
	}
	for _, e := range sks {
		if err := setSkFilter(fds[e.GetIno()], e.GetOpts()); err != nil {
			return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
		}
	}
	// Closing the other end shuts the survivor down both ways, as the
	// peer's close did.
	for ino, fd := range partners {
		delete(partners, ino)
		if err := unix.Close(fd); err != nil {
			return fmt.Errorf("socket:[%d]: close its other end: %w", ino, os.NewSyscallError("close", err))
		}
	}
	for _, e := range sks {
		fd := fds[e.GetIno()]
		if how := e.GetShutdown(); how != images.SkShutdown_NONE {
			// READ=1, WRITE=2, BOTH=3 are SHUT_RD+1, SHUT_WR+1, SHUT_RDWR+1.
			if err := unix.Shutdown(fd, int(how)-1); err != nil && !errors.Is(err, unix.ENOTCONN) {
				return fmt.Errorf("socket:[%d]: %w", e.GetIno(), os.NewSyscallError("shutdown", err))
			}
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(e.GetFlags()&^unix.O_ACCMODE)); err != nil {
			return os.NewSyscallError("fcntl(F_SETFL)", err)
		}
		t.masters[e.GetId()] = fd
	}
	return nil
}

// uskExtern is CRIU's USK_EXTERN uflag: a socket outside the dumped tree,
// written with its name and no fd.
const uskExtern = 1 << 0

// closedPeer tells a socket whose peer has closed: established, no peer.
// A datagram socket must be unnamed too: a named one is established
// also once something connected to it.
func closedPeer(e *images.UnixSkEntry) bool {
	return e.GetState() == tcpEstablished && e.GetPeer() == 0 && (e.GetType() != unix.SOCK_DGRAM || len(e.GetName()) == 0)
}

// refillQueues queues again what was queued on each socket of sks (fds
// by ino), sent by the socket that sent it. Names are bound, no datagram
// socket is connected yet (one connected to another takes datagrams from
// that one only).
//
// A stream or seqpacket queue was sent by the peer (the other end of the
// pair; for a connection whose peer closed, the stand-in end in
// partners). A datagram names its sender (addr): the datagram socket of
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
func refillQueues(queues map[uint32][]skPacket, sks []*images.UnixSkEntry, byIno map[uint32]*images.UnixSkEntry, fds, partners map[uint32]int, connected bool) error {
	mutual := func(e *images.UnixSkEntry) *images.UnixSkEntry {
		if p := byIno[e.GetPeer()]; p != nil && e.GetPeer() != 0 && p.GetPeer() == e.GetIno() {
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
				if a := q[split-1].addr; a == nil || !bytes.Equal(bytes.TrimRight(a, "\x00"), pn) {
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
		if len(e.GetName()) > 0 {
			to = unixName(e.GetName())
		}
		// peerFd is the socket whose writes reach e without a name.
		peerFd := -1
		if fd, ok := partners[e.GetIno()]; ok {
			peerFd = fd
		} else if p := mutual(e); p != nil {
			peerFd = fds[p.GetIno()]
		}
		for _, pk := range q {
			var err error
			switch {
			case e.GetType() != unix.SOCK_DGRAM || pk.addr == nil:
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
					return fmt.Errorf("%w: socket:[%d] has queued data and no sender", ErrBadImage, e.GetIno())
				}
				if from == peerFd || to == nil {
					err = sendAll(from, pk.data, stream)
				} else {
					err = sendTo(from, pk.data, to)
				}
			case len(pk.addr) == 0 && peerFd >= 0 && (partners[e.GetIno()] == peerFd || len(mutual(e).GetName()) == 0):
				err = sendAll(peerFd, pk.data, false)
			case len(pk.addr) == 0 && to != nil:
				if unnamed < 0 {
					if unnamed, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
						return fail(os.NewSyscallError("socket", err))
					}
				}
				err = sendTo(unnamed, pk.data, to)
			case len(pk.addr) == 0:
				return fmt.Errorf("%w: socket:[%d]: a datagram from an unnamed sender and no way to send it", ErrBadImage, e.GetIno())
			case byName[string(bytes.TrimRight(pk.addr, "\x00"))] != nil:
				s := byName[string(bytes.TrimRight(pk.addr, "\x00"))]
				if mutual(e) == s || to == nil {
					err = sendAll(fds[s.GetIno()], pk.data, false)
				} else {
					err = sendTo(fds[s.GetIno()], pk.data, to)
				}
			case to != nil:
				err = sendFromName(pk.addr, pk.data, to)
			default:
				return fmt.Errorf("%w: socket:[%d]: a datagram from %q and no way to send it", ErrBadImage, e.GetIno(), pk.addr)
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	return nil
}

// sendTo sends one datagram from fd to to.
func sendTo(fd int, b []byte, to unix.Sockaddr) error {
	return os.NewSyscallError("sendto", unix.Sendto(fd, b, unix.MSG_DONTWAIT, to))
}

// sendFromName sends one datagram to to from a socket bound for the send
// to name (the name of a sender that has closed); a path's file is
// removed again.
func sendFromName(name, b []byte, to unix.Sockaddr) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	sa := unixName(name)
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind %q: %w", sa.Name, os.NewSyscallError("bind", err))
	}
	if name[0] != 0 {
		defer unix.Unlink(sa.Name)
	}
	return sendTo(fd, b, to)
}

// bindGhostPath readies path for a socket whose file was deleted at
// dump: directories missing on the way are made (and added to dirs, to be
// removed), and whatever stands at path is renamed aside. It returns the
// undo of the rename.
func bindGhostPath(path string, dirs *[]string) (func() error, error) {
	var missing []string
	for d := filepath.Dir(path); d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := unix.Mkdir(missing[i], 0o700); err != nil {
			return nil, fmt.Errorf("make %s for a deleted socket: %w", missing[i], os.NewSyscallError("mkdir", err))
		}
		*dirs = append(*dirs, missing[i])
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return func() error { return nil }, nil
		}
		return nil, os.NewSyscallError("lstat", err)
	}
	aside := fmt.Sprintf("%s.criu-%d", path, os.Getpid())
	if err := unix.Renameat2(unix.AT_FDCWD, path, unix.AT_FDCWD, aside, unix.RENAME_NOREPLACE); err != nil {
		return nil, fmt.Errorf("move %s aside for a deleted socket: %w", path, os.NewSyscallError("rename", err))
	}
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		return os.NewSyscallError("rename", unix.Renameat2(unix.AT_FDCWD, aside, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE))
	}, nil
}

// removeStaleSocket removes the socket file a dumped socket left at path;
// anything else there is an error.
func removeStaleSocket(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return os.NewSyscallError("lstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("bind %s: %w: not a socket", path, os.ErrExist)
	}
	return os.NewSyscallError("unlink", unix.Unlink(path))
}

// sendAll sends b on fd: a stream in as many writes as it takes, a
// message in one. The socket is non-blocking; a full buffer is an error.
func sendAll(fd int, b []byte, stream bool) error {
	for {
		n, err := unix.Write(fd, b)
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		if !stream || n == len(b) {
			if n != len(b) {
				return fmt.Errorf("short message write: %d of %d bytes", n, len(b))
			}
			return nil
		}
		b = b[n:]
	}
}

// setSkOpts sets the SOL_SOCKET options of o on fd. Buffer sizes were
// saved as getsockopt reports them, twice the size set.
func setSkOpts(fd int, o *images.SkOptsEntry) error {
	if o == nil {
		return nil
	}
	var errs []error
	seti := func(name string, level, opt, v int) {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt("+name+")", err))
		}
	}
	seti("SO_SNDBUFFORCE", unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, int(o.GetSoSndbuf()/2))
	seti("SO_RCVBUFFORCE", unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, int(o.GetSoRcvbuf()/2))
	if o.SoBufLock != nil {
		seti("SO_BUF_LOCK", unix.SOL_SOCKET, soBufLock, int(o.GetSoBufLock()))
	}
	tv := func(name string, opt int, sec, usec uint64) {
		if sec == 0 && usec == 0 {
			return
		}
		t := unix.Timeval{Sec: int64(sec), Usec: int64(usec)}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &t); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt("+name+")", err))
		}
	}
	tv("SO_SNDTIMEO", unix.SO_SNDTIMEO, o.GetSoSndTmoSec(), o.GetSoSndTmoUsec())
	tv("SO_RCVTIMEO", unix.SO_RCVTIMEO, o.GetSoRcvTmoSec(), o.GetSoRcvTmoUsec())
	flag := func(name string, opt int, on bool) {
		if on {
			seti(name, unix.SOL_SOCKET, opt, 1)
		}
	}
	flag("SO_REUSEADDR", unix.SO_REUSEADDR, o.GetReuseaddr())
	flag("SO_REUSEPORT", unix.SO_REUSEPORT, o.GetSoReuseport())
	flag("SO_PASSCRED", unix.SO_PASSCRED, o.GetSoPasscred())
	flag("SO_BROADCAST", unix.SO_BROADCAST, o.GetSoBroadcast())
	flag("SO_KEEPALIVE", unix.SO_KEEPALIVE, o.GetSoKeepalive())
	flag("SO_DONTROUTE", unix.SO_DONTROUTE, o.GetSoDontroute())
	flag("SO_OOBINLINE", unix.SO_OOBINLINE, o.GetSoOobinline() != 0)
	flag("SO_PASSSEC", unix.SO_PASSSEC, o.GetSoPasssec())
	flag("SO_NO_CHECK", unix.SO_NO_CHECK, o.GetSoNoCheck())
	if v := o.GetSoPriority(); v != 0 {
		seti("SO_PRIORITY", unix.SOL_SOCKET, unix.SO_PRIORITY, int(v))
	}
	if v := o.GetSoRcvlowat(); v > 1 {
		seti("SO_RCVLOWAT", unix.SOL_SOCKET, unix.SO_RCVLOWAT, int(v))
	}
	if v := o.GetSoMark(); v != 0 {
		seti("SO_MARK", unix.SOL_SOCKET, unix.SO_MARK, int(v))
	}
	if o.SoLinger != nil {
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: int32(o.GetSoLinger())}); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt(SO_LINGER)", err))
		}
	}
	if dev := o.GetSoBoundDev(); dev != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt(SO_BINDTODEVICE)", err))
		}
	}
	return errors.Join(errs...)
}

// setSkFilter attaches the classic BPF filter of o to fd (CRIU's packing:
// code<<48 | jt<<40 | jf<<32 | k per instruction). It comes after the
// queues are refilled, which it would otherwise filter.
func setSkFilter(fd int, o *images.SkOptsEntry) error {
	img := o.GetSoFilter()
	if len(img) == 0 {
		return nil
	}
	if len(img) > 4096 {
		return fmt.Errorf("%w: a socket filter of %d instructions", ErrBadImage, len(img))
	}
	f := make([]unix.SockFilter, len(img))
	for i, v := range img {
		f[i] = unix.SockFilter{Code: uint16(v >> 48), Jt: uint8(v >> 40), Jf: uint8(v >> 32), K: uint32(v)}
	}
	prog := &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, prog); err != nil {
		return os.NewSyscallError("setsockopt(SO_ATTACH_FILTER)", err)
	}
	return nil
}

// setTCPOpts sets the TCP options of e on fd: TCP_NODELAY, TCP_CORK and
// the keepalive times (from tcp_opts, or the deprecated fields of
// sk_opts older images carry).
func setTCPOpts(fd int, e *images.InetSkEntry) error {
	var errs []error
	seti := func(name string, opt, v int) {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, opt, v); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt("+name+")", err))
		}
	}
	t, o := e.GetTcpOpts(), e.GetOpts()
	if t.GetNodelay() {
		seti("TCP_NODELAY", unix.TCP_NODELAY, 1)
	}
	if t.GetCork() {
		seti("TCP_CORK", unix.TCP_CORK, 1)
	}
	keep := func(name string, opt int, v *uint32, old *uint32) {
		if v == nil {
			v = old
		}
		if v != nil && *v != 0 {
			seti(name, opt, int(*v))
		}
	}
	keep("TCP_KEEPCNT", unix.TCP_KEEPCNT, t.Keepcnt, o.TcpKeepcnt)
	keep("TCP_KEEPIDLE", unix.TCP_KEEPIDLE, t.Keepidle, o.TcpKeepidle)
	keep("TCP_KEEPINTVL", unix.TCP_KEEPINTVL, t.Keepintvl, o.TcpKeepintvl)
	return errors.Join(errs...)
}

// openInet creates, in the restorer, the IPv4 or IPv6 socket e
// describes: options, bound address, listening or connected (UDP).
func openInet(e *images.InetSkEntry) (fd int, err error) {
	family := int(e.GetFamily())
	fd, err = unix.Socket(family, int(e.GetType())|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(e.GetProto()))
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
			err = fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
		}
	}()
	if err := setSkOpts(fd, e.GetOpts()); err != nil {
		return fd, err
	}
	ipo := e.GetIpOpts()
	if family == unix.AF_INET6 {
		v6only := 0
		if e.GetV6Only() {
			v6only = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return fd, os.NewSyscallError("setsockopt(IPV6_V6ONLY)", err)
		}
		if ipo.GetFreebind() {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, ipv6Freebind, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(IPV6_FREEBIND)", err)
			}
		}
		if ipo.GetPktinfo() {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(IPV6_RECVPKTINFO)", err)
			}
		}
	} else {
		if ipo.GetFreebind() {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_FREEBIND, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(IP_FREEBIND)", err)
			}
		}
		if v := ipo.GetTos(); v != 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, int(v)); err != nil {
				return fd, os.NewSyscallError("setsockopt(IP_TOS)", err)
			}
		}
		if ipo.GetPktinfo() {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
				return fd, os.NewSyscallError("setsockopt(IP_PKTINFO)", err)
			}
		}
		// IP_TTL reads as the namespace's default until set: set it
		// only where it differs from this new socket's.
		if v := ipo.GetTtl(); ipo.Ttl != nil {
			if cur, err := unix.GetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL); err != nil || cur != int(v) {
				if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, int(v)); err != nil {
					return fd, os.NewSyscallError("setsockopt(IP_TTL)", err)
				}
			}
		}
	}
	if e.GetProto() == unix.IPPROTO_TCP {
		if err := setTCPOpts(fd, e); err != nil {
			return fd, err
		}
	}
	src, err := inetSockaddr(family, e.GetSrcAddr(), e.GetSrcPort())
	if err != nil {
		return fd, err
	}
	if e.GetSrcPort() != 0 || !zeroWords(e.GetSrcAddr()) {
		if err := unix.Bind(fd, src); err != nil {
			return fd, os.NewSyscallError("bind", err)
		}
	}
	switch {
	case e.GetState() == tcpListen:
		if err := unix.Listen(fd, int(e.GetBacklog())); err != nil {
			return fd, os.NewSyscallError("listen", err)
		}
	case e.GetState() == tcpEstablished && e.GetType() == unix.SOCK_DGRAM:
		dst, err := inetSockaddr(family, e.GetDstAddr(), e.GetDstPort())
		if err != nil {
			return fd, err
		}
		if err := unix.Connect(fd, dst); err != nil {
			return fd, os.NewSyscallError("connect", err)
		}
	case e.GetState() == tcpEstablished:
		return fd, fmt.Errorf("%w: established TCP connection", ErrUnsupported)
	}
	if how := e.GetShutdown(); how != images.SkShutdown_NONE {
		// An unconnected socket is shut down all the same (ENOTCONN).
		if err := unix.Shutdown(fd, int(how)-1); err != nil && !errors.Is(err, unix.ENOTCONN) {
			return fd, os.NewSyscallError("shutdown", err)
		}
	}
	if err := setSkFilter(fd, e.GetOpts()); err != nil {
		return fd, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(e.GetFlags()&^unix.O_ACCMODE)); err != nil {
		return fd, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return fd, nil
}

func zeroWords(w []uint32) bool {
	for _, v := range w {
		if v != 0 {
			return false
		}
	}
	return true
}

// inetSockaddr builds a sockaddr from CRIU's address words (network-order
// bytes read as little-endian u32s).
func inetSockaddr(family int, words []uint32, port uint32) (unix.Sockaddr, error) {
	var b [16]byte
	for i, w := range words {
		if i >= 4 {
			break
		}
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	switch {
	case family == unix.AF_INET && len(words) <= 1:
		sa := &unix.SockaddrInet4{Port: int(port)}
		copy(sa.Addr[:], b[:4])
		return sa, nil
	case family == unix.AF_INET6 && (len(words) == 4 || len(words) == 0):
		return &unix.SockaddrInet6{Port: int(port), Addr: b}, nil
	}
	return nil, fmt.Errorf("%w: family %d with %d address words", ErrBadImage, family, len(words))
}
