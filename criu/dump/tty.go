package dump

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Unix98 pseudo-terminals: /dev/ptmx (5:2) opens a master, whose
// slave is /dev/pts/N (majors 136-143). CRIU numbers a pty's two
// tty_info entries index*2 (slave) and index*2+1 (master).
const (
	ptmxMajor, ptmxMinor = 5, 2
	ptsMajorFirst        = 136
	ptsMajorLast         = 143
)

func isPtmx(rdev uint64) bool {
	return unix.Major(rdev) == ptmxMajor && unix.Minor(rdev) == ptmxMinor
}

func isPts(rdev uint64) bool {
	maj := unix.Major(rdev)
	return maj >= ptsMajorFirst && maj <= ptsMajorLast
}

// ttySet is the ptys the tree holds, for tty-info.img.
type ttySet struct {
	masters map[uint32]bool // by index
	slaves  map[uint32]bool
	infos   map[uint32]*images.TtyInfoEntry // by info id
	// data is the bytes waiting in a master's buffer, by info id.
	data map[uint32][]byte
	// held is every pty whose master a task of the tree holds, by
	// index, with the session it is the controlling terminal of;
	// found by scanPtys once the tree is frozen (nil before).
	held map[uint32]*heldPty
	// ext is the external terminals the tree holds, by key, and
	// extCount how many have a tty_info yet (exttty.go).
	ext      map[string]*extTTY
	extCount int
	// slaveKey is the key of each slave, by index, for errors.
	slaveKey map[uint32]string
}

// heldPty is a pty whose master is in the tree. sid and pgrp are the
// session whose controlling terminal its slave is and that terminal's
// foreground process group, host pids (0: none), as TIOCGSID and
// TIOCGPGRP on the master tell them.
type heldPty struct {
	sid, pgrp int
	// pid and fd: where a task of the tree holds the master.
	pid, fd int
}

// scanPtys finds the ptys whose master the frozen tree holds, and the
// session each is the controlling terminal of. It runs once, before any
// task's files are dumped.
func (t *tree) scanPtys() error {
	if t.ttys.held != nil {
		return nil
	}
	held := map[uint32]*heldPty{}
	for _, d := range t.tasks {
		if d.zombie {
			continue
		}
		fds, err := procfs.Fds(d.pid)
		if err != nil {
			return fmt.Errorf("list fds of %d: %w", d.pid, err)
		}
		for _, fd := range fds {
			var st unix.Stat_t
			if unix.Stat(procfs.Path(d.pid, fmt.Sprintf("fd/%d", fd)), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || !isPtmx(st.Rdev) {
				continue
			}
			fi, err := procfs.ReadFdinfo(d.pid, fd)
			if err != nil {
				return err
			}
			n, err := strconv.ParseUint(strings.TrimSpace(fi.Extra["tty-index"]), 10, 32)
			if err != nil {
				return fmt.Errorf("dump %d: %w", d.pid, &FdError{Fd: fd, Type: "pty master", Err: fmt.Errorf("%w: no tty-index in fdinfo", ErrUnsupported)})
			}
			if held[uint32(n)] != nil {
				continue
			}
			h, err := masterSession(d.pid, fd)
			if err != nil {
				return fmt.Errorf("dump %d: %w", d.pid, &FdError{Fd: fd, Type: "pty master", Err: err})
			}
			h.pid, h.fd = d.pid, fd
			held[uint32(n)] = h
		}
	}
	t.ttys.held = held
	if err := t.checkCttys(); err != nil {
		return err
	}
	return t.scanExtTTYs()
}

// masterSession reads, through a copy of the pty master at fd of pid,
// the session and foreground group of its slave.
func masterSession(pid, fd int) (*heldPty, error) {
	c, err := copyFd(pid, fd)
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

// copyFd gives the dumper a copy of fd of pid (pidfd_getfd).
func copyFd(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pidfd)
	c, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_getfd", err)
	}
	return c, nil
}

// treePty returns the pty of the tree whose slave is the tty rdev, or
// nil if it is no pty of the tree's own.
func (ts *ttySet) treePty(rdev uint64) *heldPty {
	if !isPts(rdev) || ts.held == nil {
		return nil
	}
	return ts.held[ptsIndex(rdev)]
}

// ptsIndex is the index N of the slave /dev/pts/N with device rdev.
func ptsIndex(rdev uint64) uint32 {
	return (unix.Major(rdev)-ptsMajorFirst)*256 + unix.Minor(rdev)
}

// checkCttys checks the controlling terminals that are ptys of the tree,
// which restore gives back (restore/tty.go): the session leader sets the
// terminal right after its setsid, so every task of the session, which
// it forks afterwards, inherits it, and then the foreground group is set.
// So the session's leader and foreground group must be in the tree, and
// every live task of that session must have the terminal.
func (t *tree) checkCttys() error {
	bySid := map[int]uint32{}
	for index, h := range t.ttys.held {
		if h.sid == 0 {
			continue
		}
		bySid[h.sid] = index
		leader := t.byPid[h.sid]
		if leader == nil || leader.zombie {
			return fmt.Errorf("dump %d: %w: /dev/pts/%d is the controlling terminal of session %d, whose leader is not in the tree", t.opts.Pid, ErrUnsupported, index, h.sid)
		}
		if h.pgrp != 0 && h.pgrp != h.sid {
			found := false
			for _, d := range t.tasks {
				found = found || !d.zombie && d.stat.Pgrp == h.pgrp && d.stat.Session == h.sid
			}
			if !found {
				return fmt.Errorf("dump %d: %w: the foreground process group %d of /dev/pts/%d has no task in the tree", t.opts.Pid, ErrUnsupported, h.pgrp, index)
			}
		}
	}
	for _, d := range t.tasks {
		if d.zombie {
			continue
		}
		index, ok := bySid[d.stat.Session]
		if h := t.ttys.treePty(d.stat.TtyNr); h != nil && (!ok || ptsIndex(d.stat.TtyNr) != index) {
			return fmt.Errorf("dump %d: %w: task %d has the controlling terminal %s, which is not its session's (%d)", t.opts.Pid, ErrUnsupported, d.pid, ttyName(d.stat.TtyNr), d.stat.Session)
		}
		if ok && (d.stat.TtyNr == 0 || ptsIndex(d.stat.TtyNr) != index || !isPts(d.stat.TtyNr)) {
			return fmt.Errorf("dump %d: %w: task %d of session %d has no controlling terminal, while its session's is /dev/pts/%d (restore would give it that terminal)", t.opts.Pid, ErrUnsupported, d.pid, d.stat.Session, index)
		}
	}
	return nil
}

// addPty records the pty end open at fd. Both ends of every pty must
// be held by the tree (checked by ttySet.write); the pty's termios and
// window size are read through a pidfd_getfd copy of the fd.
func (d *dumper) addPty(fd int, st *unix.Stat_t, flags uint32, fi procfs.Fdinfo, target string) (*images.FileEntry, error) {
	ts := &d.t.ttys
	if ts.infos == nil {
		ts.masters, ts.slaves, ts.infos = map[uint32]bool{}, map[uint32]bool{}, map[uint32]*images.TtyInfoEntry{}
	}
	var index uint32
	master := isPtmx(st.Rdev)
	if master {
		v, ok := fi.Extra["tty-index"]
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("%w: pty master without tty-index in fdinfo", ErrUnsupported)
		}
		index = uint32(n)
	} else {
		n, err := strconv.ParseUint(strings.TrimPrefix(target, "/dev/pts/"), 10, 32)
		if err != nil || !strings.HasPrefix(target, "/dev/pts/") {
			return nil, fmt.Errorf("%w: pty slave at %q", ErrUnsupported, target)
		}
		index = uint32(n)
	}
	infoID := index * 2
	if master {
		infoID++
		ts.masters[index] = true
	} else {
		ts.slaves[index] = true
		if ts.slaveKey == nil {
			ts.slaveKey = map[uint32]string{}
		}
		ts.slaveKey[index] = TTYKey(st.Rdev, st.Dev)
	}
	if _, ok := ts.infos[infoID]; !ok {
		info, err := d.ptyInfo(fd, st, index, master)
		if err != nil {
			return nil, err
		}
		ts.infos[infoID] = info
	}
	regID, err := d.files.addReg(target, procfs.Path(d.pid, fmt.Sprintf("fd/%d", fd)), flags, 0)
	if err != nil {
		return nil, err
	}
	id := d.files.id()
	return &images.FileEntry{Type: images.FdTypes_TTY.Enum(), Id: proto.Uint32(id), Tty: &images.TtyFileEntry{
		Id: proto.Uint32(id), TtyInfoId: proto.Uint32(infoID), Flags: proto.Uint32(flags), Fown: zeroFown(), RegfId: proto.Uint32(regID),
	}}, nil
}

// ptyInfo reads the state of one end of a pty through a copy of fd.
func (d *dumper) ptyInfo(fd int, st *unix.Stat_t, index uint32, master bool) (*images.TtyInfoEntry, error) {
	c, err := copyFd(d.pid, fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(c)
	term, err := readTermState(c)
	if err != nil {
		return nil, err
	}
	tio := term.tio
	// Bytes waiting to be read on this end (see queued).
	if n, err := queued(c); err != nil {
		return nil, err
	} else if n > 0 && !master {
		// Input not yet read by the slave's reader. CRIU reads it
		// out and on restore writes it into the master, where the
		// slave's line discipline processes it a second time: only
		// in a raw enough mode are those the bytes that waited.
		data, err := d.t.keepInput(index, tio, n)
		if err != nil {
			return nil, err
		}
		ts := &d.t.ttys
		if ts.data == nil {
			ts.data = map[uint32][]byte{}
		}
		ts.data[index*2] = data
	} else if n > 0 {
		data, err := keepQueued(c, index, n)
		if err != nil {
			return nil, err
		}
		ts := &d.t.ttys
		if ts.data == nil {
			ts.data = map[uint32][]byte{}
		}
		ts.data[index*2+1] = data
	}
	sid, pgrp, err := d.t.cttyIDs(index)
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
	term.fill(info)
	if master {
		lck, err := unix.IoctlGetInt(c, unix.TIOCGPTLCK)
		if err != nil {
			return nil, os.NewSyscallError("ioctl(TIOCGPTLCK)", err)
		}
		pkt, err := unix.IoctlGetInt(c, unix.TIOCGPKT)
		if err != nil {
			return nil, os.NewSyscallError("ioctl(TIOCGPKT)", err)
		}
		info.Locked, info.PacketMode = proto.Bool(lck != 0), proto.Bool(pkt != 0)
	}
	return info, nil
}

// maxQueued is the most bytes taken from a master's buffer. n_tty's
// buffer holds 4096; a fuller one may have more bytes waiting behind it,
// in the tty's flip buffer, which TIOCINQ does not count.
const maxQueued = 2048

// queued is the number of bytes waiting to be read on the tty end c.
// A poll first: when the line discipline's buffer is empty, n_tty's poll
// waits for the tty's flip buffer work, so that bytes written just before
// the freeze are counted too.
func queued(c int) (int, error) {
	if _, err := unix.Poll([]unix.PollFd{{Fd: int32(c), Events: unix.POLLIN}}, 0); err != nil && err != unix.EINTR {
		return 0, os.NewSyscallError("poll", err)
	}
	n, err := unix.IoctlGetInt(c, unix.TIOCINQ)
	if err != nil {
		return 0, os.NewSyscallError("ioctl(TIOCINQ)", err)
	}
	return n, nil
}

// keepQueued takes a copy of the n bytes waiting in the buffer of the
// pty master c (what its slave's writer wrote, not yet read by the
// master's reader), leaving them in place: it reads them out and at once
// puts them back with TIOCSTI, which hands each byte to the master's own
// line discipline, always raw (a master's termios is the driver's; TCSETS
// on a master sets its slave's), so the buffer holds the same bytes
// again. Restore puts them there the same way (restore/tty.go). CRIU
// writes them into the slave instead, through its output processing
// (ONLCR makes "\r\n" of "\n" a second time). TIOCSTI from outside the
// tty's session needs CAP_SYS_ADMIN, checked before anything is read.
func keepQueued(c int, index uint32, n int) ([]byte, error) {
	if n > maxQueued {
		return nil, fmt.Errorf("%w: pty %d: %d bytes written to /dev/pts/%d wait in its master's buffer, more than %d (more may wait behind them)", ErrUnsupported, index, n, index, maxQueued)
	}
	if pkt, err := unix.IoctlGetInt(c, unix.TIOCGPKT); err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGPKT)", err)
	} else if pkt != 0 {
		// A read in packet mode returns a status byte first, or
		// only a pending status change, which it clears.
		return nil, fmt.Errorf("%w: pty %d in packet mode: %d bytes written to /dev/pts/%d are not yet read from its master", ErrUnsupported, index, n, index)
	}
	if !capSysAdmin() {
		return nil, fmt.Errorf("%w: pty %d: %d bytes written to /dev/pts/%d are not yet read from its master, and putting them back (TIOCSTI) needs CAP_SYS_ADMIN", ErrUnsupported, index, n, index)
	}
	b := make([]byte, n)
	got := 0
	for got < n {
		k, err := unix.Read(c, b[got:])
		if err == unix.EINTR {
			continue
		}
		if err == nil && k == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fmt.Errorf("pty %d: read its master's %d waiting bytes: got %d: %w", index, n, got, putBack(c, b[:got], err))
		}
		got += k
	}
	if err := putBack(c, b, nil); err != nil {
		return nil, fmt.Errorf("pty %d: %w", index, err)
	}
	if m, err := unix.IoctlGetInt(c, unix.TIOCINQ); err != nil || m != n {
		return nil, fmt.Errorf("pty %d: its master's buffer holds %d bytes after they were put back, want %d (%v)", index, m, n, err)
	}
	return b, nil
}

// keepInput takes a copy of the n bytes of input waiting in the buffer of
// the slave /dev/pts/index, whose termios is tio, leaving them in place:
// read from a non-blocking slave the master opens (TIOCGPTPEER), and at
// once handed back to the slave's line discipline with TIOCSTI, which
// is what restore does too. That gives back the same bytes only when
// the line discipline takes them as they are (ReplayableInput); else
// the dump is refused, before anything is read.
func (t *tree) keepInput(index uint32, tio *unix.Termios, n int) ([]byte, error) {
	if n > maxQueued {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read, more than %d (more may wait behind them)", ErrUnsupported, index, n, index, maxQueued)
	}
	if tio.Lflag&unix.ICANON != 0 {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read, in canonical mode (replayed, they would be echoed and edited again)", ErrUnsupported, index, n, index)
	}
	if err := ReplayableInput(tio, nil); err != nil {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read: %v", ErrUnsupported, index, n, index, err)
	}
	h := t.ttys.held[index]
	if h == nil {
		return nil, fmt.Errorf("%w: /dev/pts/%d is open but its master is not in the tree", ErrUnsupported, index)
	}
	if !capSysAdmin() {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read, and putting them back (TIOCSTI) needs CAP_SYS_ADMIN", ErrUnsupported, index, n, index)
	}
	mc, err := copyFd(h.pid, h.fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mc)
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(mc), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC))
	if e != 0 {
		return nil, fmt.Errorf("pty %d: open its slave: %w", index, os.NewSyscallError("ioctl(TIOCGPTPEER)", e))
	}
	sl := int(r)
	defer unix.Close(sl)
	b := make([]byte, n)
	got := 0
	for got < n {
		k, err := unix.Read(sl, b[got:])
		if err == unix.EINTR {
			continue
		}
		if err == nil && k == 0 || err == unix.EAGAIN {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fmt.Errorf("pty %d: read the %d bytes of input waiting on its slave: got %d: %w", index, n, got, putBack(sl, b[:got], err))
		}
		got += k
	}
	// Checked before the read for the mode; now for the bytes. They go
	// back in any case: in a mode where one of them is special now (a
	// ^C taken in while ISIG was off), under a mode without those
	// specials for as long as it takes (turning neither ICANON nor ECHO,
	// which keeps the buffer as it is), then the task's mode again.
	perr := ReplayableInput(tio, b)
	if perr != nil {
		tmp := *tio
		tmp.Lflag &^= unix.ISIG
		tmp.Iflag &^= unix.ICRNL | unix.IGNCR | unix.INLCR | unix.PARMRK | unix.ISTRIP
		if bytes.IndexByte(b, tio.Cc[unix.VSTART]) >= 0 || bytes.IndexByte(b, tio.Cc[unix.VSTOP]) >= 0 {
			tmp.Iflag &^= unix.IXON
		}
		if err := unix.IoctlSetTermios(sl, unix.TCSETS, &tmp); err != nil {
			return nil, fmt.Errorf("pty %d: %w", index, putBack(sl, b, os.NewSyscallError("ioctl(TCSETS)", err)))
		}
	}
	err = putBack(sl, b, nil)
	if perr != nil {
		if e := unix.IoctlSetTermios(sl, unix.TCSETS, tio); e != nil && err == nil {
			err = fmt.Errorf("set its termios back: %w", os.NewSyscallError("ioctl(TCSETS)", e))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pty %d: %w", index, err)
	}
	if m, err := unix.IoctlGetInt(sl, unix.TIOCINQ); err != nil || m != n {
		return nil, fmt.Errorf("pty %d: its slave's buffer holds %d bytes after they were put back, want %d (%v)", index, m, n, err)
	}
	if perr != nil {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read: %v", ErrUnsupported, index, n, index, perr)
	}
	return b, nil
}

// ReplayableInput tells whether the input bytes data, handed to a tty's
// line discipline (n_tty) in the mode tio, are stored as they are, so
// that input found waiting in a tty's buffer can be put back in it: not
// in canonical mode (line editing, EOF), without echo, without input
// translations, and with none of the bytes a special character of that
// mode (signals, flow control, CR/NL mapping, PARMRK's \377, ISTRIP's
// eighth bit). A nil data checks the mode only. It returns why not.
func ReplayableInput(tio *unix.Termios, data []byte) error {
	switch {
	case tio.Lflag&unix.ICANON != 0:
		return fmt.Errorf("canonical mode")
	case tio.Lflag&unix.ECHO != 0:
		return fmt.Errorf("echo is on")
	case tio.Iflag&unix.IUCLC != 0:
		return fmt.Errorf("IUCLC is on")
	}
	special := map[byte]string{}
	if tio.Iflag&unix.IXON != 0 {
		special[tio.Cc[unix.VSTART]], special[tio.Cc[unix.VSTOP]] = "VSTART", "VSTOP"
	}
	if tio.Lflag&unix.ISIG != 0 {
		special[tio.Cc[unix.VINTR]], special[tio.Cc[unix.VQUIT]], special[tio.Cc[unix.VSUSP]] = "VINTR", "VQUIT", "VSUSP"
	}
	if tio.Iflag&(unix.ICRNL|unix.IGNCR) != 0 {
		special['\r'] = "CR (ICRNL, IGNCR)"
	}
	if tio.Iflag&unix.INLCR != 0 {
		special['\n'] = "NL (INLCR)"
	}
	for i, c := range data {
		if what, ok := special[c]; ok {
			return fmt.Errorf("byte %d is %#x, the tty's %s", i, c, what)
		}
		if c == 0xff && tio.Iflag&unix.PARMRK != 0 {
			return fmt.Errorf("byte %d is 0xff, doubled by PARMRK", i)
		}
		if c >= 0x80 && tio.Iflag&unix.ISTRIP != 0 {
			return fmt.Errorf("byte %d is %#x, stripped by ISTRIP", i, c)
		}
	}
	return nil
}

// putBack hands b to the line discipline of the tty end c, byte by
// byte, and returns why (a non-nil) err it was called for, or its own.
func putBack(c int, b []byte, err error) error {
	for i, x := range b {
		// TIOCSTI reads one char through its pointer: the low byte
		// of the int on this little-endian machine.
		if e := unix.IoctlSetPointerInt(c, unix.TIOCSTI, int(x)); e != nil {
			return fmt.Errorf("put back the waiting bytes: %d of %d lost: %w", len(b)-i, len(b), os.NewSyscallError("ioctl(TIOCSTI)", e))
		}
	}
	return err
}

// capSysAdmin reports whether this process has CAP_SYS_ADMIN in effect.
func capSysAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_SYS_ADMIN) != 0
}

// cttyIDs gives the session and foreground group of pty index, as the
// images hold them (ids inside the tree's pid namespace; CRIU puts them
// on both ends' entries), 0 and 0 when it is no controlling terminal.
// scanPtys and checkCttys have checked they are the tree's.
func (t *tree) cttyIDs(index uint32) (sid, pgrp uint32, err error) {
	if err := t.scanPtys(); err != nil {
		return 0, 0, err
	}
	h := t.ttys.held[index]
	if h == nil || h.sid == 0 {
		return 0, 0, nil
	}
	leader := t.byPid[h.sid]
	if leader == nil {
		return 0, 0, fmt.Errorf("%w: /dev/pts/%d is the controlling terminal of session %d, whose leader is not in the tree", ErrUnsupported, index, h.sid)
	}
	sid = uint32(leader.vsid)
	for _, d := range t.tasks {
		if !d.zombie && d.stat.Pgrp == h.pgrp && d.stat.Session == h.sid {
			pgrp = uint32(d.vpgid)
			break
		}
	}
	if h.pgrp != 0 && pgrp == 0 {
		return 0, 0, fmt.Errorf("%w: the foreground process group %d of /dev/pts/%d has no task in the tree", ErrUnsupported, h.pgrp, index)
	}
	return sid, pgrp, nil
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func termiosEntry(t *unix.Termios) *images.TermiosEntry {
	e := &images.TermiosEntry{
		CIflag: proto.Uint32(t.Iflag), COflag: proto.Uint32(t.Oflag), CCflag: proto.Uint32(t.Cflag), CLflag: proto.Uint32(t.Lflag),
		CLine: proto.Uint32(uint32(t.Line)), CIspeed: proto.Uint32(t.Ispeed), COspeed: proto.Uint32(t.Ospeed),
	}
	e.CCc = PackCc(t.Cc)
	return e
}

// ccEntries is the number of c_cc entries of CRIU's termios_entry
// (TERMIOS_NCC), glibcCcLen the size of glibc's c_cc (NCCS).
const (
	ccEntries  = 19
	glibcCcLen = 32
)

// PackCc writes the control characters cc (the kernel's c_cc) as CRIU's
// termios_entry holds them: CRIU reads a termios into glibc's struct,
// whose c_cc[32] has the kernel's 19 bytes then zeros, and copies those
// 32 bytes over its array of 19 uint32s, so the first 8 entries hold
// four characters each, little-endian (entry 0 is VINTR | VQUIT<<8 |
// VERASE<<16 | VKILL<<24), and the other 11 nothing (CRIU leaves them
// uninitialized; here 0). CRIU restores by the reverse copy.
func PackCc(cc [19]uint8) []uint32 {
	var b [glibcCcLen]byte
	copy(b[:], cc[:])
	out := make([]uint32, ccEntries)
	for i := 0; i < glibcCcLen/4; i++ {
		out[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return out
}

// UnpackCc reads the control characters of a termios_entry (PackCc).
// Images this project wrote before it packed them held one character an
// entry: every entry a byte, and some of the entries past the 8th set
// (VSTART, VSTOP and VSUSP are entries 8-10); those are read as such.
func UnpackCc(e []uint32) [19]uint8 {
	var cc [19]uint8
	legacy, late := true, false
	for i, v := range e {
		legacy = legacy && v <= 0xff
		late = late || i >= glibcCcLen/4 && v != 0
	}
	if legacy && late {
		for i, v := range e {
			if i < len(cc) {
				cc[i] = uint8(v)
			}
		}
		return cc
	}
	var b [glibcCcLen]byte
	for i := 0; i < glibcCcLen/4 && i < len(e); i++ {
		binary.LittleEndian.PutUint32(b[i*4:], e[i])
	}
	copy(cc[:], b[:])
	return cc
}

// write checks that every pty slave has its master in the tree and
// writes tty-info.img.
func (ts *ttySet) write(ctx context.Context, s image.Store) error {
	if len(ts.infos) == 0 {
		return nil
	}
	for i := range ts.slaves {
		if !ts.masters[i] {
			return fmt.Errorf("%w: /dev/pts/%d is open but its master is not in the tree (a terminal given by a process outside, a container's console: dump with --external %s, and restore with --inherit-fd fd[N]:%s giving the terminal that takes its place)", ErrUnsupported, i, ts.slaveKey[i], ts.slaveKey[i])
		}
	}
	ids := make([]uint32, 0, len(ts.infos))
	for id := range ts.infos {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	ms := make([]proto.Message, len(ids))
	for i, id := range ids {
		ms[i] = ts.infos[id]
	}
	if err := image.WriteImage(ctx, s, "tty-info.img", ms...); err != nil {
		return err
	}
	// The bytes waiting in masters' buffers, by the tty-info id of the
	// end they wait on, as CRIU's tty-data.img has them.
	var data []proto.Message
	for _, id := range ids {
		if b, ok := ts.data[id]; ok {
			data = append(data, &images.TtyDataEntry{TtyId: proto.Uint32(id), Data: b})
		}
	}
	if len(data) == 0 {
		return nil
	}
	return image.WriteImage(ctx, s, "tty-data.img", data...)
}

// termState is what a tty_info entry holds of a terminal's settings,
// the same for a pty end and an external terminal.
type termState struct {
	tio, locked *unix.Termios
	ws          *unix.Winsize
	exclusive   bool
}

// readTermState reads the settings of the terminal open at fd c.
func readTermState(c int) (*termState, error) {
	var s termState
	var err error
	if s.tio, err = unix.IoctlGetTermios(c, unix.TCGETS); err != nil {
		return nil, os.NewSyscallError("ioctl(TCGETS)", err)
	}
	if s.locked, err = unix.IoctlGetTermios(c, unix.TIOCGLCKTRMIOS); err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGLCKTRMIOS)", err)
	}
	if s.ws, err = unix.IoctlGetWinsize(c, unix.TIOCGWINSZ); err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGWINSZ)", err)
	}
	excl, err := unix.IoctlGetInt(c, unix.TIOCGEXCL)
	if err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGEXCL)", err)
	}
	s.exclusive = excl != 0
	return &s, nil
}

// fill sets the settings in a tty_info entry.
func (s *termState) fill(e *images.TtyInfoEntry) {
	e.Exclusive = proto.Bool(s.exclusive)
	e.Termios, e.TermiosLocked = termiosEntry(s.tio), termiosEntry(s.locked)
	e.Winsize = &images.WinsizeEntry{WsRow: proto.Uint32(uint32(s.ws.Row)), WsCol: proto.Uint32(uint32(s.ws.Col)),
		WsXpixel: proto.Uint32(uint32(s.ws.Xpixel)), WsYpixel: proto.Uint32(uint32(s.ws.Ypixel))}
}
