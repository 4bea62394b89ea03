package sockets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/sockets/skqueue"
	"github.com/criugo/criu/criu/sockets/unixname"
	"github.com/criugo/criu/proto/images"
)

// Restorer is what restoring the sockets needs of the tree restorer,
// which implements it: the fds given with --inherit-fd, and the keeping
// of the fds opened.
type Restorer interface {
	// Inherits reports whether --inherit-fd gives an fd for key
	// (socket:[INO]).
	Inherits(key string) bool
	// InheritedFd returns a close-on-exec copy (the same description)
	// of criu's fd that --inherit-fd gives for key, and records that the
	// key was used; ok is false when none is given.
	InheritedFd(key string) (fd int, ok bool, err error)
	// Keep takes fd, opened in the restorer, to be closed with the
	// restorer's other copies once the tasks have theirs, or when the
	// restore fails.
	Keep(fd int)
	// Uncover moves aside the mounts over paths[i] above mount mnts[i].
	Uncover(mnts []int32, paths []string) (undo func() error, err error)
}

// OpenUnix creates in the restorer the UNIX sockets ids (file ids of
// UNIXSK entries of files, the entries of files.img by id) with the
// messages queued on them: each connected pair with socketpair, the
// others with socket, then binds, listens, connects datagram sockets to
// their peer, sets options, refills queues (sent by the socket that sent
// them: the peer), shuts down and sets file flags, in that order. Each
// socket's fd goes in masters, by file id. It runs in the tree's network
// namespace, and, for a container, in its mount namespace: names are
// bound and connected to as the tree sees them.
func OpenUnix(r Restorer, files map[uint32]*images.FileEntry, queues skqueue.Queues, ids []uint32, masters map[uint32]int) (err error) {
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	byIno := map[uint32]*images.UnixSkEntry{}
	var sks []*images.UnixSkEntry
	for _, id := range ids {
		e := files[id].GetUsk()
		if e == nil {
			return fmt.Errorf("%w: file %d: no unix socket entry", errdefs.ErrBadImage, id)
		}
		byIno[e.GetIno()] = e
		sks = append(sks, e)
	}
	fds := map[uint32]int{} // by ino
	keep := r.Keep
	// A connection whose peer had closed is made a pair; the other end
	// (by the survivor's ino) sends the survivor's queue, then closes.
	partners := map[uint32]int{}
	defer func() {
		for _, fd := range partners {
			unix.Close(fd)
		}
	}()
	mutual := func(e *images.UnixSkEntry) *images.UnixSkEntry {
		// A datagram socket connected to itself is no pair: it
		// connects to its own name, as the others.
		if p := byIno[e.GetPeer()]; p != nil && e.GetPeer() != 0 && p != e && p.GetPeer() == e.GetIno() {
			return p
		}
		return nil
	}
	// A socket given with --inherit-fd fd[N]:socket:[INO] is criu's fd N
	// (its description, as it is: nothing of the images is set on it).
	var own []*images.UnixSkEntry
	for _, e := range sks {
		key := fmt.Sprintf("socket:[%d]", e.GetIno())
		if !r.Inherits(key) {
			own = append(own, e)
			continue
		}
		if p := mutual(e); p != nil {
			if !r.Inherits(fmt.Sprintf("socket:[%d]", p.GetIno())) {
				return fmt.Errorf("%w: socket:[%d] is given with --inherit-fd, its peer socket:[%d] of the tree is not", errdefs.ErrUnsupported, e.GetIno(), p.GetIno())
			}
		}
		fd, _, err := r.InheritedFd(key)
		if err != nil {
			return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
		}
		keep(fd)
		masters[e.GetId()] = fd
	}
	sks = own
	// A connection one end of which shut down before it connected (its
	// peer does not mirror it, as one shut down after would): that end
	// (by ino) is shut down so, then connected to the listener the other
	// end was accepted from, which accepts it again (a socketpair's
	// shutdown reaches both ends).
	early := map[uint32]uint32{}
	type reaccept struct{ c, a, l *images.UnixSkEntry }
	var reaccepts []reaccept
	accepting := map[uint32]bool{}
	for _, e := range sks {
		p := mutual(e)
		if p == nil || accepting[e.GetIno()] {
			continue
		}
		m := shutBeforeConnect(e, p)
		if m == 0 {
			continue
		}
		l := acceptedFrom(p, sks)
		if l == nil {
			return fmt.Errorf("%w: socket:[%d] was shut down before it connected, and no listener of the tree has its peer socket:[%d]'s name to connect to", errdefs.ErrBadImage, e.GetIno(), p.GetIno())
		}
		early[e.GetIno()] = m
		accepting[p.GetIno()] = true
		reaccepts = append(reaccepts, reaccept{e, p, l})
	}
	for _, e := range sks {
		if _, ok := fds[e.GetIno()]; ok || accepting[e.GetIno()] {
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
		if p := mutual(e); p != nil && early[e.GetIno()] == 0 {
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
		if len(e.GetName()) == 0 || accepting[e.GetIno()] {
			continue
		}
		k := string(e.GetName())
		if k[0] != 0 {
			k = unixname.Path(e) // a relative name by its directory
		}
		if groups[k] == nil {
			names = append(names, k)
		}
		groups[k] = append(groups[k], e)
	}
	// Files hidden under mounts are reached with those moved aside.
	if mnts, hidden := unixname.Covered(sks); len(hidden) > 0 {
		undo, err := r.Uncover(mnts, hidden)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, undo()) }()
	}
	var unlinkLater []string
	// reach names, by inode, a hard link to the file of a socket whose
	// path another of its group takes after it (a deleted one): its
	// datagram clients and connections not yet accepted connect
	// through it, its queue is sent to it; removed once they have.
	reach := map[uint32][]byte{}
	defer func() {
		for ino, name := range reach {
			unixname.InDir(byIno[ino], func() error { return unix.Unlink(string(name)) })
		}
	}()
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
		sort.SliceStable(g, func(i, j int) bool { return unixname.Rank(g[i]) < unixname.Rank(g[j]) })
		abstract := k[0] == 0
		if abstract && len(g) > 1 {
			g = g[len(g)-1:]
		}
		// A group of deleted sockets only: whatever is at the path now
		// is not the tree's, and is put back after.
		ghosts := !abstract && unixname.Rank(g[len(g)-1]) == 0
		for i, e := range g {
			sa := skqueue.Sockaddr(e.GetName())
			path := unixname.Path(e)
			if ghosts && i == 0 {
				restorePath, err := unixname.BindGhostPath(path, &ghostDirs)
				if err != nil {
					return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
				}
				putBack = append(putBack, restorePath)
			} else if !abstract && !ghosts {
				if err := unixname.RemoveStale(path); err != nil {
					return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
				}
			}
			if err := unixname.InDir(e, func() error { return unix.Bind(fds[e.GetIno()], sa) }); err != nil {
				return fmt.Errorf("socket:[%d]: bind %q: %w", e.GetIno(), sa.Name, os.NewSyscallError("bind", err))
			}
			if abstract {
				continue
			}
			if p := e.GetFilePerms(); p != nil {
				if err := os.Chmod(path, os.FileMode(p.GetMode()&0o777)); err != nil {
					return err
				}
				if err := os.Lchown(path, int(p.GetUid()), int(p.GetGid())); err != nil {
					return err
				}
			}
			if i < len(g)-1 {
				if err := unixname.LinkReach(e, reach); err != nil {
					return fmt.Errorf("socket:[%d]: %w", e.GetIno(), err)
				}
				if err := unix.Unlink(path); err != nil {
					return os.NewSyscallError("unlink", err)
				}
			} else if e.GetDeleted() {
				unlinkLater = append(unlinkLater, path)
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
	for _, ra := range reaccepts {
		c, l := fds[ra.c.GetIno()], fds[ra.l.GetIno()]
		if err := unix.Shutdown(c, int(early[ra.c.GetIno()])-1); err != nil && !errors.Is(err, unix.ENOTCONN) {
			return fmt.Errorf("socket:[%d]: %w", ra.c.GetIno(), os.NewSyscallError("shutdown", err))
		}
		name := ra.l.GetName()
		if r, ok := reach[ra.l.GetIno()]; ok {
			name = r
		}
		if err := unixname.InDir(ra.l, func() error { return unix.Connect(c, skqueue.Sockaddr(name)) }); err != nil {
			return fmt.Errorf("socket:[%d]: connect to socket:[%d]: %w", ra.c.GetIno(), ra.l.GetIno(), os.NewSyscallError("connect", err))
		}
		a, _, err := unix.Accept4(l, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return fmt.Errorf("socket:[%d]: accept socket:[%d]'s connection again: %w", ra.l.GetIno(), ra.c.GetIno(), os.NewSyscallError("accept4", err))
		}
		keep(a)
		fds[ra.a.GetIno()] = a
	}
	// The descriptors passed in queued messages: the restorer's
	// description of each file, a socket of these or another master.
	fdOf := func(id uint32) (int, bool) {
		if f := files[id]; f.GetUsk() != nil {
			if fd, ok := fds[f.GetUsk().GetIno()]; ok {
				return fd, true
			}
		}
		fd, ok := masters[id]
		return fd, ok
	}
	refill := &skqueue.Refiller{Queues: queues, Sks: sks, ByIno: byIno, Fds: fds, Partners: partners, FdOf: fdOf, InDir: unixname.InDir, Reach: reach}
	if err := refill.Refill(false); err != nil {
		return err
	}
	// External sockets (outside the dumped tree, CRIU's USK_EXTERN): the
	// entries with no fd, by inode.
	ext := map[uint32]*images.UnixSkEntry{}
	for _, f := range files {
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
				return fmt.Errorf("%w: socket:[%d] is connected to the external socket:[%d]: give it with --inherit-fd fd[N]:socket:[%d]", errdefs.ErrUnsupported, e.GetIno(), x.GetIno(), e.GetIno())
			}
			p = x
		}
		if p == nil || len(p.GetName()) == 0 {
			return fmt.Errorf("%w: socket:[%d]: its peer socket:[%d] cannot be reached by name", errdefs.ErrBadImage, e.GetIno(), e.GetPeer())
		}
		name := p.GetName()
		if r, ok := reach[p.GetIno()]; ok {
			name = r
		}
		if err := unixname.InDir(p, func() error { return unix.Connect(fds[e.GetIno()], skqueue.Sockaddr(name)) }); err != nil {
			return fmt.Errorf("socket:[%d]: connect to socket:[%d]: %w", e.GetIno(), p.GetIno(), os.NewSyscallError("connect", err))
		}
	}
	if err := refill.Refill(true); err != nil {
		return err
	}
	for ino, name := range reach {
		delete(reach, ino)
		if err := unixname.InDir(byIno[ino], func() error { return unix.Unlink(string(name)) }); err != nil {
			return fmt.Errorf("socket:[%d]: remove the link it was reached by: %w", ino, os.NewSyscallError("unlink", err))
		}
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
		if how := uint32(e.GetShutdown()) &^ early[e.GetIno()]; how != 0 {
			// READ=1, WRITE=2, BOTH=3 are SHUT_RD+1, SHUT_WR+1, SHUT_RDWR+1.
			if err := unix.Shutdown(fd, int(how)-1); err != nil && !errors.Is(err, unix.ENOTCONN) {
				return fmt.Errorf("socket:[%d]: %w", e.GetIno(), os.NewSyscallError("shutdown", err))
			}
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(e.GetFlags()&^unix.O_ACCMODE)); err != nil {
			return os.NewSyscallError("fcntl(F_SETFL)", err)
		}
		masters[e.GetId()] = fd
	}
	return nil
}

// shutBeforeConnect is the part of e's shutdown that its peer p of a
// connection does not mirror (reading on one end is writing on the
// other): e shut it down before it connected.
func shutBeforeConnect(e, p *images.UnixSkEntry) uint32 {
	if e.GetType() == unix.SOCK_DGRAM {
		return 0
	}
	pm := uint32(p.GetShutdown()) & 3
	return uint32(e.GetShutdown()) & 3 &^ (pm&1<<1 | pm&2>>1)
}

// acceptedFrom is the listener of sks that a was accepted from: the
// only one of its type with its name; nil if none or several.
func acceptedFrom(a *images.UnixSkEntry, sks []*images.UnixSkEntry) *images.UnixSkEntry {
	var l *images.UnixSkEntry
	for _, o := range sks {
		if o.GetState() != tcpListen || o.GetType() != a.GetType() || len(a.GetName()) == 0 ||
			!bytes.Equal(o.GetName(), a.GetName()) || o.GetNameDir() != a.GetNameDir() {
			continue
		}
		if l != nil {
			return nil
		}
		l = o
	}
	return l
}

// closedPeer tells a socket whose peer has closed: established, no peer.
// A datagram socket must be unnamed too: a named one is established
// also once something connected to it.
func closedPeer(e *images.UnixSkEntry) bool {
	return e.GetState() == tcpEstablished && e.GetPeer() == 0 && (e.GetType() != unix.SOCK_DGRAM || len(e.GetName()) == 0)
}
