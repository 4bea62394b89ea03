package tty

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/tty/ptybuf"
	"github.com/criugo/criu/criu/tty/termios"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Options are the dump's options that concern terminals.
type Options struct {
	// Pid is the root of the tree, as the dump's errors name it.
	Pid int
	// ShellJob: the tree may belong to the shell that started it
	// (criu dump --shell-job; CheckShellJob).
	ShellJob bool
	// ExternalTTY names the terminals, by TTYKey, whose other end is
	// outside the tree (criu dump --external tty[RDEV:DEV]; dump_ext.go).
	ExternalTTY map[string]bool
	// OrphanPtsMaster: a pty slave whose master no task of the tree
	// holds (a container's console, whose master its runtime keeps) is
	// dumped as a pty of the tree's own, and restore opens a new
	// master for it and gives that to its client (CRIU's
	// orphan_pts_master, which runc sends over criu swrk).
	OrphanPtsMaster bool
	Log             zerolog.Logger
}

// Task is a task of the frozen tree, as the terminal checks see it.
type Task struct {
	Pid    int // host pid
	Zombie bool
	// Stat is its /proc stat: session, group, tty_nr, tpgid.
	Stat procfs.Stat
	// VPgid, VSid: its group and session as the images hold them
	// (inside the tree's pid namespace).
	VPgid, VSid int
}

// Tree is what the collector needs of the frozen tree.
type Tree interface {
	// Tasks lists the tree's tasks, the root first, zombies included.
	// Their ids inside the tree's pid namespace are set once the
	// collector is first asked anything.
	Tasks() []Task
}

// Files is what the collector needs of the dump's table of files.
type Files interface {
	// NewID gives a new open file description its id in files.img.
	NewID() uint32
	// AddReg records the file path, open at link (/proc/PID/fd/N),
	// with flags, as a regular file, and returns its id.
	AddReg(path, link string, flags uint32) (uint32, error)
}

// Fd is an fd of a task of the frozen tree on a terminal.
type Fd struct {
	Pid, Fd int
	Stat    *unix.Stat_t
	Flags   uint32        // file status flags, without O_CLOEXEC
	Info    procfs.Fdinfo // its fdinfo
	Target  string        // its /proc/PID/fd link
}

// Set is the terminals the frozen tree holds, for tty-info.img and
// tty-data.img: the dump's collector, held by the dumped tree. Not safe
// for concurrent use.
type Set struct {
	tree Tree
	opts Options

	masters map[uint32]bool // by index
	slaves  map[uint32]bool
	infos   map[uint32]*images.TtyInfoEntry // by info id
	// data is the bytes waiting in a master's buffer, by info id.
	data map[uint32][]byte
	// held is every pty whose master a task of the tree holds, by
	// index, with the session it is the controlling terminal of;
	// found by Scan once the tree is frozen (nil before).
	held map[uint32]*heldPty
	// ext is the external terminals the tree holds, by key, and
	// extCount how many have a tty_info yet (dump_ext.go).
	ext      map[string]*extTTY
	extCount int
	// slaveKey is the key of each slave, by index, for errors.
	slaveKey map[uint32]string
	// hung: the ptys whose master was closed, by index: their slaves
	// are hung up (hungPty).
	hung map[uint32]bool
}

// NewSet returns the collector of the terminals of tree.
func NewSet(tree Tree, opts Options) *Set { return &Set{tree: tree, opts: opts} }

// heldPty is a pty whose master is in the tree. sid and pgrp are the
// session whose controlling terminal its slave is and that terminal's
// foreground process group, host pids (0: none), as TIOCGSID and
// TIOCGPGRP on the master tell them.
type heldPty struct {
	sid, pgrp int
	// pid and fd: where a task of the tree holds the master.
	pid, fd int
	// orphan: no task holds the master (Options.OrphanPtsMaster);
	// sid and pgrp are then read from the tasks' stat.
	orphan bool
}

// tasks lists the tree's tasks, and the same by pid.
func (s *Set) tasks() ([]Task, map[int]*Task) {
	tasks := s.tree.Tasks()
	byPid := make(map[int]*Task, len(tasks))
	for i := range tasks {
		byPid[tasks[i].Pid] = &tasks[i]
	}
	return tasks, byPid
}

// Scan finds the ptys whose master the frozen tree holds, and the
// session each is the controlling terminal of, and the tree's fds on the
// external terminals (Options.ExternalTTY). It runs once, before any
// task's files are dumped; later calls do nothing.
func (s *Set) Scan() error {
	if s.held != nil {
		return nil
	}
	held := map[uint32]*heldPty{}
	tasks, _ := s.tasks()
	err := terminalFds(tasks, isPtmx, func(d Task, fd int, _ string, _ *unix.Stat_t) error {
		fi, err := procfs.ReadFdinfo(d.Pid, fd)
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(strings.TrimSpace(fi.Extra["tty-index"]), 10, 32)
		if err != nil {
			return fmt.Errorf("dump %d: %w", d.Pid, &errdefs.FdError{Fd: fd, Type: "pty master", Err: fmt.Errorf("%w: no tty-index in fdinfo", errdefs.ErrUnsupported)})
		}
		if held[uint32(n)] != nil {
			return nil
		}
		h, err := masterSession(d.Pid, fd)
		if err != nil {
			return fmt.Errorf("dump %d: %w", d.Pid, &errdefs.FdError{Fd: fd, Type: "pty master", Err: err})
		}
		h.pid, h.fd = d.Pid, fd
		held[uint32(n)] = h
		return nil
	})
	if err != nil {
		return err
	}
	if s.opts.OrphanPtsMaster {
		if err := orphanPtys(tasks, held); err != nil {
			return err
		}
	}
	s.held = held
	if err := s.checkCttys(); err != nil {
		return err
	}
	return s.scanExtTTYs()
}

// orphanPtys adds to held the ptys whose slaves the tasks hold without
// their master, with the session and foreground group of the tasks that
// have one as controlling terminal (a slave's TIOCGSID answers only its
// own session).
func orphanPtys(tasks []Task, held map[uint32]*heldPty) error {
	var own unix.Stat_t
	if err := unix.Stat("/dev/pts/ptmx", &own); err != nil {
		own.Dev = ^uint64(0)
	}
	return terminalFds(tasks, isPts, func(d Task, fd int, link string, st *unix.Stat_t) error {
		index := ptsIndex(st.Rdev)
		if held[index] != nil {
			return nil
		}
		if st.Dev == own.Dev {
			// Its master, outside, keeps the index taken on criu's
			// devpts: restore could not open it again. A container's
			// own devpts is made anew, with the index free.
			target, _ := os.Readlink(link)
			return fmt.Errorf("dump %d: %w", d.Pid, &errdefs.FdError{Fd: fd, Type: "terminal " + target,
				Err: fmt.Errorf("%w: a pty of criu's own devpts whose master is outside the tree (orphan_pts_master restores only a container's own devpts)", errdefs.ErrUnsupported)})
		}
		h := &heldPty{orphan: true}
		for _, t := range tasks {
			if !t.Zombie && t.Stat.TtyNr == st.Rdev {
				h.sid, h.pgrp = t.Stat.Session, max(t.Stat.Tpgid, 0)
				break
			}
		}
		held[index] = h
		return nil
	})
}

// terminalFds calls f for every fd of the live tasks that is open on a
// character device whose rdev is one that want reports (link: its
// /proc/PID/fd link, st: what it stats), in the order of the tasks and
// their fds, and returns f's first error.
func terminalFds(tasks []Task, want func(rdev uint64) bool, f func(d Task, fd int, link string, st *unix.Stat_t) error) error {
	for _, d := range tasks {
		if d.Zombie {
			continue
		}
		fds, err := procfs.Fds(d.Pid)
		if err != nil {
			return fmt.Errorf("list fds of %d: %w", d.Pid, err)
		}
		for _, fd := range fds {
			var st unix.Stat_t
			link := procfs.Path(d.Pid, fmt.Sprintf("fd/%d", fd))
			if unix.Stat(link, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || !want(st.Rdev) {
				continue
			}
			if err := f(d, fd, link, &st); err != nil {
				return err
			}
		}
	}
	return nil
}

// masterSession reads, through a copy of the pty master at fd of pid,
// the session and foreground group of its slave.
func masterSession(pid, fd int) (*heldPty, error) {
	c, err := linux.CopyFd(pid, fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(c)
	h := &heldPty{}
	// On a master both work from any process; a slave that is no
	// session's terminal gives ENOTTY.
	if h.sid, err = unix.IoctlGetInt(c, unix.TIOCGSID); err != nil {
		if err != unix.ENOTTY {
			return nil, os.NewSyscallError("ioctl(TIOCGSID)", err)
		}
		h.sid = 0
	}
	if h.pgrp, err = unix.IoctlGetInt(c, unix.TIOCGPGRP); err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGPGRP)", err)
	}
	return h, nil
}

// treePty returns the pty of the tree whose slave is the tty rdev, or
// nil if it is no pty of the tree's own.
func (s *Set) treePty(rdev uint64) *heldPty {
	if !isPts(rdev) || s.held == nil {
		return nil
	}
	return s.held[ptsIndex(rdev)]
}

// OwnPty reports that rdev is the slave of a pty whose master the tree
// holds (found by Scan): the tree's own terminal, not a shell's.
func (s *Set) OwnPty(rdev uint64) bool { return s.treePty(rdev) != nil }

// checkCttys checks the controlling terminals that are ptys of the tree,
// which restore gives back (restore.go): the session leader sets the
// terminal right after its setsid, so every task of the session, which
// it forks afterwards, inherits it, and then the foreground group is set.
// So the session's leader and foreground group must be in the tree, and
// every live task of that session must have the terminal.
func (s *Set) checkCttys() error {
	tasks, byPid := s.tasks()
	bySid := map[int]uint32{}
	for index, h := range s.held {
		if h.sid == 0 {
			continue
		}
		bySid[h.sid] = index
		leader := byPid[h.sid]
		if leader == nil || leader.Zombie {
			return fmt.Errorf("dump %d: %w: /dev/pts/%d is the controlling terminal of session %d, whose leader is not in the tree", s.opts.Pid, errdefs.ErrUnsupported, index, h.sid)
		}
		if h.pgrp != 0 && h.pgrp != h.sid {
			found := false
			for _, d := range tasks {
				found = found || !d.Zombie && d.Stat.Pgrp == h.pgrp && d.Stat.Session == h.sid
			}
			if !found {
				return fmt.Errorf("dump %d: %w: the foreground process group %d of /dev/pts/%d has no task in the tree", s.opts.Pid, errdefs.ErrUnsupported, h.pgrp, index)
			}
		}
	}
	for _, d := range tasks {
		if d.Zombie {
			continue
		}
		index, ok := bySid[d.Stat.Session]
		if h := s.treePty(d.Stat.TtyNr); h != nil && (!ok || ptsIndex(d.Stat.TtyNr) != index) {
			return fmt.Errorf("dump %d: %w: task %d has the controlling terminal %s, which is not its session's (%d)", s.opts.Pid, errdefs.ErrUnsupported, d.Pid, ttyName(d.Stat.TtyNr), d.Stat.Session)
		}
		if ok && (d.Stat.TtyNr == 0 || ptsIndex(d.Stat.TtyNr) != index || !isPts(d.Stat.TtyNr)) {
			return fmt.Errorf("dump %d: %w: task %d of session %d has no controlling terminal, while its session's is /dev/pts/%d (restore would give it that terminal)", s.opts.Pid, errdefs.ErrUnsupported, d.Pid, d.Stat.Session, index)
		}
	}
	return nil
}

// AddPty records the pty end open at f (IsPty) and returns its file
// entry. Both ends of every pty must be held by the tree (checked by
// Write); the pty's termios and window size are read through a
// pidfd_getfd copy of the fd.
func (s *Set) AddPty(f Fd, files Files) (*images.FileEntry, error) {
	if s.infos == nil {
		s.masters, s.slaves, s.infos = map[uint32]bool{}, map[uint32]bool{}, map[uint32]*images.TtyInfoEntry{}
	}
	st, target := f.Stat, f.Target
	var index uint32
	master := isPtmx(st.Rdev)
	if master {
		v, ok := f.Info.Extra["tty-index"]
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("%w: pty master without tty-index in fdinfo", errdefs.ErrUnsupported)
		}
		index = uint32(n)
	} else {
		path, deleted := strings.CutSuffix(target, " (deleted)")
		n, err := strconv.ParseUint(strings.TrimPrefix(path, "/dev/pts/"), 10, 32)
		if err != nil || !strings.HasPrefix(path, "/dev/pts/") {
			return nil, fmt.Errorf("%w: pty slave at %q", errdefs.ErrUnsupported, target)
		}
		index = uint32(n)
		if deleted {
			return s.hungPty(f, files, index, path)
		}
	}
	infoID := index * 2
	if master {
		infoID++
		s.masters[index] = true
	} else {
		s.slaves[index] = true
		if s.slaveKey == nil {
			s.slaveKey = map[uint32]string{}
		}
		s.slaveKey[index] = TTYKey(st.Rdev, st.Dev)
	}
	if _, ok := s.infos[infoID]; !ok {
		info, err := s.ptyInfo(f, index, master)
		if err != nil {
			return nil, err
		}
		s.infos[infoID] = info
	}
	regID, err := files.AddReg(target, procfs.Path(f.Pid, fmt.Sprintf("fd/%d", f.Fd)), f.Flags)
	if err != nil {
		return nil, err
	}
	id := files.NewID()
	return &images.FileEntry{Type: images.FdTypes_TTY.Enum(), Id: proto.Uint32(id), Tty: &images.TtyFileEntry{
		Id: proto.Uint32(id), TtyInfoId: proto.Uint32(infoID), Flags: proto.Uint32(f.Flags), Fown: image.ZeroFown(), RegfId: proto.Uint32(regID),
	}}, nil
}

// hungPty records a slave of pty index whose master was closed: its
// devpts node went with the master, and the kernel hung up every open
// file of it (reads give EOF, writes and ioctls EIO; it is no session's
// controlling terminal any more). Saved as CRIU saves one, a tty-info
// entry without termios, which restore opens from a new master that it
// then closes. A live pty that took the index since is refused (Write).
func (s *Set) hungPty(f Fd, files Files, index uint32, path string) (*images.FileEntry, error) {
	c, err := linux.CopyFd(f.Pid, f.Fd)
	if err != nil {
		return nil, err
	}
	_, err = unix.IoctlGetTermios(c, unix.TCGETS)
	unix.Close(c)
	if err != unix.EIO {
		return nil, fmt.Errorf("%w: pty slave at %q is not hung up (TCGETS: %v)", errdefs.ErrUnsupported, f.Target, err)
	}
	if s.hung == nil {
		s.hung = map[uint32]bool{}
	}
	s.hung[index] = true
	infoID := index * 2
	if _, ok := s.infos[infoID]; !ok {
		st := f.Stat
		s.infos[infoID] = &images.TtyInfoEntry{
			Id: proto.Uint32(infoID), Type: images.TtyType_PTY.Enum(), Sid: proto.Uint32(0), Pgrp: proto.Uint32(0),
			Rdev: proto.Uint32(uint32(st.Rdev)), Pty: &images.TtyPtyEntry{Index: proto.Uint32(index)},
			Dev: proto.Uint32(uint32(st.Dev)), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid),
			Locked: proto.Bool(false), PacketMode: proto.Bool(false), Exclusive: proto.Bool(false),
		}
	}
	regID, err := files.AddReg(path, procfs.Path(f.Pid, fmt.Sprintf("fd/%d", f.Fd)), f.Flags)
	if err != nil {
		return nil, err
	}
	id := files.NewID()
	return &images.FileEntry{Type: images.FdTypes_TTY.Enum(), Id: proto.Uint32(id), Tty: &images.TtyFileEntry{
		Id: proto.Uint32(id), TtyInfoId: proto.Uint32(infoID), Flags: proto.Uint32(f.Flags), Fown: image.ZeroFown(), RegfId: proto.Uint32(regID),
	}}, nil
}

// ptyInfo reads the state of one end of a pty through a copy of f.
func (s *Set) ptyInfo(f Fd, index uint32, master bool) (*images.TtyInfoEntry, error) {
	st := f.Stat
	c, err := linux.CopyFd(f.Pid, f.Fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(c)
	term, err := termios.Read(c)
	if err != nil {
		return nil, err
	}
	tio := term.Tio
	pkt := false
	if master {
		if pkt, err = ptybuf.PacketMode(c, index); err != nil {
			return nil, err
		}
	}
	// Bytes waiting to be read on this end (see ptybuf.Queued).
	if n, err := ptybuf.Queued(c); err != nil {
		return nil, err
	} else if !master && (n > 0 || tio.Lflag&unix.ICANON != 0) {
		// Input not yet read by the slave's reader (in canonical mode
		// also a line being typed, which n does not count). CRIU
		// reads it out and on restore writes it into the master,
		// where the slave's line discipline processes it a second
		// time: only in a raw enough mode, or as canonical lines put
		// back without echo, are those the bytes that waited.
		data, err := s.keepInput(index, tio, n)
		if err != nil {
			return nil, err
		}
		if len(data) > 0 && s.data == nil {
			s.data = map[uint32][]byte{}
		}
		if len(data) > 0 {
			s.data[index*2] = data
		}
	} else if n > 0 {
		data, err := ptybuf.KeepQueued(c, index, n, pkt)
		if err != nil {
			return nil, err
		}
		if s.data == nil {
			s.data = map[uint32][]byte{}
		}
		s.data[index*2+1] = data
	}
	sid, pgrp, err := s.cttyIDs(index)
	if err != nil {
		return nil, err
	}
	info := &images.TtyInfoEntry{
		Id: proto.Uint32(index*2 + b2u(master)), Type: images.TtyType_PTY.Enum(),
		Sid: proto.Uint32(sid), Pgrp: proto.Uint32(pgrp), Rdev: proto.Uint32(uint32(st.Rdev)),
		Pty: &images.TtyPtyEntry{Index: proto.Uint32(index)},
		Dev: proto.Uint32(uint32(st.Dev)), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid),
		Locked: proto.Bool(false), PacketMode: proto.Bool(false),
	}
	term.Fill(info)
	if master {
		lck, err := unix.IoctlGetInt(c, unix.TIOCGPTLCK)
		if err != nil {
			return nil, os.NewSyscallError("ioctl(TIOCGPTLCK)", err)
		}
		info.Locked, info.PacketMode = proto.Bool(lck != 0), proto.Bool(pkt)
	}
	return info, nil
}

// keepInput takes a copy of the n bytes of input waiting in the buffer of
// the slave /dev/pts/index, whose termios is tio, leaving them in place:
// read from a non-blocking slave the master opens (TIOCGPTPEER), and at
// once handed back to the slave's line discipline with TIOCSTI, which
// is what restore does too. That gives back the same bytes only when
// the line discipline takes them as they are (ReplayableInput), or in
// canonical mode as lines (ptybuf.KeepCanon, which also takes the line
// being typed, so n may be 0); else the dump is refused, before
// anything is read.
func (s *Set) keepInput(index uint32, tio *unix.Termios, n int) ([]byte, error) {
	if n > ptybuf.MaxQueued {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read, more than %d (more may wait behind them)", errdefs.ErrUnsupported, index, n, index, ptybuf.MaxQueued)
	}
	canon := tio.Lflag&unix.ICANON != 0
	if err := termios.ReplayableInput(tio, nil); err != nil && !canon {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read: %v", errdefs.ErrUnsupported, index, n, index, err)
	}
	h := s.held[index]
	if n == 0 && (h == nil || h.orphan || !ptybuf.CapSysAdmin()) {
		return nil, nil // a line being typed is seen only from the master, and put back by TIOCSTI
	}
	if h == nil || h.orphan {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read, and its master is not in the tree", errdefs.ErrUnsupported, index, n, index)
	}
	if !ptybuf.CapSysAdmin() {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read, and putting them back (TIOCSTI) needs CAP_SYS_ADMIN", errdefs.ErrUnsupported, index, n, index)
	}
	mc, err := linux.CopyFd(h.pid, h.fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mc)
	sl, err := linux.IoctlGetPtyPeer(mc, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pty %d: open its slave: %w", index, err)
	}
	defer unix.Close(sl)
	if canon {
		return ptybuf.KeepCanon(sl, index, tio, n)
	}
	return ptybuf.KeepInput(sl, index, tio, n)
}

// cttyIDs gives the session and foreground group of pty index, as the
// images hold them (ids inside the tree's pid namespace; CRIU puts them
// on both ends' entries), 0 and 0 when it is no controlling terminal.
// Scan and checkCttys have checked they are the tree's.
func (s *Set) cttyIDs(index uint32) (sid, pgrp uint32, err error) {
	if err := s.Scan(); err != nil {
		return 0, 0, err
	}
	h := s.held[index]
	if h == nil || h.sid == 0 {
		return 0, 0, nil
	}
	tasks, byPid := s.tasks()
	leader := byPid[h.sid]
	if leader == nil {
		return 0, 0, fmt.Errorf("%w: /dev/pts/%d is the controlling terminal of session %d, whose leader is not in the tree", errdefs.ErrUnsupported, index, h.sid)
	}
	sid = uint32(leader.VSid)
	for _, d := range tasks {
		if !d.Zombie && d.Stat.Pgrp == h.pgrp && d.Stat.Session == h.sid {
			pgrp = uint32(d.VPgid)
			break
		}
	}
	if h.pgrp != 0 && pgrp == 0 {
		return 0, 0, fmt.Errorf("%w: the foreground process group %d of /dev/pts/%d has no task in the tree", errdefs.ErrUnsupported, h.pgrp, index)
	}
	return sid, pgrp, nil
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Write checks that every pty slave has its master in the tree and
// writes tty-info.img, and tty-data.img when bytes waited in a pty.
func (s *Set) Write(ctx context.Context, st image.Store) error {
	if len(s.infos) == 0 {
		return nil
	}
	for i := range s.hung {
		if s.masters[i] || s.slaves[i] {
			return fmt.Errorf("%w: /dev/pts/%d is open, and so is a slave of the pty that had the index %d before, hung up when its master was closed", errdefs.ErrUnsupported, i, i)
		}
	}
	for i := range s.slaves {
		if !s.masters[i] && !(s.held[i] != nil && s.held[i].orphan) {
			return fmt.Errorf("%w: /dev/pts/%d is open but its master is not in the tree (a terminal given by a process outside, a container's console: dump with --external %s, and restore with --inherit-fd fd[N]:%s giving the terminal that takes its place)", errdefs.ErrUnsupported, i, s.slaveKey[i], s.slaveKey[i])
		}
	}
	ids := make([]uint32, 0, len(s.infos))
	for id := range s.infos {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	ms := make([]proto.Message, len(ids))
	for i, id := range ids {
		ms[i] = s.infos[id]
	}
	if err := image.WriteImage(ctx, st, InfoImage, ms...); err != nil {
		return err
	}
	// The bytes waiting in masters' buffers, by the tty-info id of the
	// end they wait on, as CRIU's tty-data.img has them.
	var data []proto.Message
	for _, id := range ids {
		if b, ok := s.data[id]; ok {
			data = append(data, &images.TtyDataEntry{TtyId: proto.Uint32(id), Data: b})
		}
	}
	if len(data) == 0 {
		return nil
	}
	return image.WriteImage(ctx, st, DataImage, data...)
}
