package restore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/proto/images"
)

// readTTYInfo reads tty-info.img, which exists only when the tree held
// terminals, by info id.
func readTTYInfo(ctx context.Context, s image.Store) (map[uint32]*images.TtyInfoEntry, error) {
	ms, err := image.ReadAll(ctx, s, "tty-info.img", func() proto.Message { return &images.TtyInfoEntry{} })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[uint32]*images.TtyInfoEntry{}
	for _, m := range ms {
		e := m.(*images.TtyInfoEntry)
		out[e.GetId()] = e
	}
	return out, nil
}

// ctty is a terminal that is the controlling terminal of a session of
// the tree: a pty's slave or an external terminal (exttty.go), name for
// errors; fd is the restorer's open slave, pgrp the foreground group.
type ctty struct {
	name string
	fd   int
	pgrp int
	// steal: an external terminal is taken even from the session
	// whose controlling terminal it is now (criu's own, when criu runs
	// in the terminal it hands over), as CRIU takes it.
	steal bool
}

// openTTYs opens, in the restorer, every pty the tasks' fds lead to
// (openPtys), before the tree is created: a session leader takes its
// controlling terminal right after its setsid (setCtty), so that the
// tasks it forks next inherit it, as they had it.
func (t *treeRestorer) openTTYs(ctx context.Context) error {
	seen := map[uint32]bool{}
	var ids []uint32
	for _, fdis := range t.ti.fdinfo {
		for _, fi := range fdis {
			id := fi.GetId()
			if f := t.ti.files[id]; f != nil && f.GetType() == images.FdTypes_TTY && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	data, err := readTTYData(ctx, t.store)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		for _, info := range t.ti.ttyInfo {
			if info.GetSid() != 0 {
				return fmt.Errorf("%w: tty %d is the controlling terminal of session %d, but no task has it open", ErrBadImage, info.GetId(), info.GetSid())
			}
		}
		if len(data) > 0 {
			return fmt.Errorf("%w: tty-data.img holds bytes for tty %d, which no task has open", ErrBadImage, data[0].GetTtyId())
		}
		return nil
	}
	// External terminals first: a session's controlling terminal may
	// be one (openCttys).
	ids, err = t.openExtTTYs(ids)
	if err != nil {
		return err
	}
	if err := t.openPtys(ids); err != nil {
		return err
	}
	return t.refillPtys(data)
}

// maxTTYData caps the bytes of one tty-data.img entry: n_tty's buffer
// holds 4096.
const maxTTYData = 4096

// readTTYData reads tty-data.img, which exists only when bytes waited in
// a pty's buffer.
func readTTYData(ctx context.Context, s image.Store) ([]*images.TtyDataEntry, error) {
	ms, err := image.ReadAll(ctx, s, "tty-data.img", func() proto.Message { return &images.TtyDataEntry{} })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]*images.TtyDataEntry, len(ms))
	for i, m := range ms {
		out[i] = m.(*images.TtyDataEntry)
		if len(out[i].GetData()) > maxTTYData {
			return nil, fmt.Errorf("%w: tty-data.img: %d bytes for tty file %d", ErrBadImage, len(out[i].GetData()), out[i].GetTtyId())
		}
	}
	return out, nil
}

// refillPtys puts the bytes that waited in a pty's buffers back, with
// TIOCSTI on the restorer's fd of that end, which hands each byte to its
// line discipline (dump put them back the same way). A master's is
// always raw: what its slave's writer wrote comes back as it was. A
// slave's unread input comes back as it was only in a mode that stores
// input as it comes (dump.ReplayableInput), which dump checked; CRIU's
// images may hold any (it writes them into the master, where the slave's
// line discipline processes them again): those are refused.
func (t *treeRestorer) refillPtys(data []*images.TtyDataEntry) error {
	done := map[uint32]bool{}
	for _, e := range data {
		// tty_id is the tty-info id of the end the bytes wait on.
		info := t.ti.ttyInfo[e.GetTtyId()]
		if info == nil || info.GetPty() == nil {
			return fmt.Errorf("%w: tty-data.img: tty %d is no pty in the images", ErrBadImage, e.GetTtyId())
		}
		index := info.GetPty().GetIndex()
		if info.GetId()%2 == 0 {
			// The slave's own unread input: put back as it was only in
			// a mode that stores it as it comes (dump checks the same).
			tio := unix.Termios{}
			if te := info.GetTermios(); te != nil {
				tio = termios(te)
			}
			if err := dump.ReplayableInput(&tio, e.GetData()); info.GetTermios() == nil || err != nil {
				return fmt.Errorf("%w: tty-data.img holds %d bytes of unread input of /dev/pts/%d, which cannot be put back as they were: %v", ErrUnsupported, len(e.GetData()), index, err)
			}
		}
		if done[info.GetId()] {
			return fmt.Errorf("%w: tty-data.img: tty %d twice", ErrBadImage, info.GetId())
		}
		done[info.GetId()] = true
		fd := -1
		for id, f := range t.ti.files {
			if m, ok := t.masters[id]; ok && f.GetTty().GetTtyInfoId() == info.GetId() {
				fd = m
				break
			}
		}
		if fd < 0 {
			return fmt.Errorf("%w: tty-data.img: tty %d of pty %d is not open", ErrBadImage, info.GetId(), index)
		}
		for _, b := range e.GetData() {
			// TIOCSTI reads one char through its pointer: the low
			// byte of the int on this little-endian machine.
			if err := unix.IoctlSetPointerInt(fd, unix.TIOCSTI, int(b)); err != nil {
				return fmt.Errorf("pty %d: refill its buffer: %w", index, os.NewSyscallError("ioctl(TIOCSTI)", err))
			}
		}
		if n, err := unix.IoctlGetInt(fd, unix.TIOCINQ); err != nil || n != len(e.GetData()) {
			return fmt.Errorf("pty %d: tty %d's buffer holds %d bytes after the refill, want %d (%v)", index, info.GetId(), n, len(e.GetData()), err)
		}
	}
	return nil
}

// ptyFile is one open file of a pty end.
type ptyFile struct {
	id     uint32
	f      *images.TtyFileEntry
	info   *images.TtyInfoEntry
	master bool
}

// openPtys opens, in the restorer, the ptys of the files ids: each
// master from /dev/ptmx with its dumped index (devpts hands out the
// lowest free index, so lower ones are held open meanwhile), then its
// slaves from /dev/pts/N, with termios (and its locked bits), window
// size, exclusive, packet mode and the slave lock set back. Buffered
// bytes are not restored (dump refuses a pty holding some). A pty that
// was a session's controlling terminal gets one more slave open here,
// for the session leader (t.cttys).
func (t *treeRestorer) openPtys(ids []uint32) error {
	var files []ptyFile
	for _, id := range ids {
		f := t.ti.files[id].GetTty()
		info := t.ti.ttyInfo[f.GetTtyInfoId()]
		if info == nil {
			return fmt.Errorf("%w: tty file %d: no tty info %d", ErrBadImage, id, f.GetTtyInfoId())
		}
		if info.GetType() != images.TtyType_PTY || info.GetPty() == nil {
			return fmt.Errorf("%w: tty file %d of type %v", ErrUnsupported, id, info.GetType())
		}
		files = append(files, ptyFile{id: id, f: f, info: info, master: info.GetId()%2 == 1})
	}
	// Masters first, by index; then slaves.
	sort.Slice(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if a.master != b.master {
			return a.master
		}
		return a.info.GetPty().GetIndex() < b.info.GetPty().GetIndex()
	})
	masters := map[uint32]int{} // master fd by index
	var slaves []int
	for _, p := range files {
		index := p.info.GetPty().GetIndex()
		var fd int
		var err error
		if p.master {
			if _, ok := masters[index]; ok {
				return fmt.Errorf("%w: pty %d has two master files", ErrBadImage, index)
			}
			if fd, err = openPtmx(index, int(p.f.GetFlags()&unix.O_ACCMODE)); err != nil {
				return fmt.Errorf("pty %d: %w", index, err)
			}
			t.masterFds = append(t.masterFds, fd)
			masters[index] = fd
			if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("ioctl(TIOCSPTLCK)", err))
			}
			if p.info.GetPacketMode() {
				if err := unix.IoctlSetPointerInt(fd, unix.TIOCPKT, 1); err != nil {
					return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("ioctl(TIOCPKT)", err))
				}
			}
		} else {
			if _, ok := masters[index]; !ok {
				return fmt.Errorf("%w: /dev/pts/%d without its master", ErrUnsupported, index)
			}
			path := fmt.Sprintf("/dev/pts/%d", index)
			flags := int(p.f.GetFlags()&unix.O_ACCMODE) | unix.O_NOCTTY | unix.O_CLOEXEC
			if fd, err = unix.Open(path, flags, 0); err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("open "+path, err))
			}
			t.masterFds = append(t.masterFds, fd)
			slaves = append(slaves, fd)
		}
		if err := setTTY(fd, p.info); err != nil {
			return fmt.Errorf("pty %d: %w", index, err)
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(p.f.GetFlags()&^unix.O_ACCMODE)); err != nil {
			return os.NewSyscallError("fcntl(F_SETFL)", err)
		}
		t.masters[p.id] = fd
	}
	if err := t.openCttys(masters); err != nil {
		return err
	}
	// Exclusive mode and the slave lock last: they refuse new opens.
	for _, p := range files {
		fd := t.masters[p.id]
		if p.info.GetExclusive() {
			if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
				return os.NewSyscallError("ioctl(TIOCEXCL)", err)
			}
		}
		if p.master && p.info.GetLocked() {
			if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 1); err != nil {
				return os.NewSyscallError("ioctl(TIOCSPTLCK)", err)
			}
		}
	}
	return nil
}

// openCttys opens a slave of each pty of the images that was a session's
// controlling terminal (its tty-info entries carry the session and the
// foreground group, on the master's, the slaves' or both, as in CRIU),
// once its master is open (masters: the restorer's fd by index). An
// external terminal that was one is the restorer's open one
// (t.extTTYs).
func (t *treeRestorer) openCttys(masters map[uint32]int) error {
	t.cttys = map[int]*ctty{}
	byName := map[string]*ctty{}
	for _, info := range t.ti.ttyInfo {
		sid, pgrp := int(info.GetSid()), int(info.GetPgrp())
		if sid == 0 {
			continue
		}
		ext := info.GetType() == images.TtyType_EXT_TTY
		if !ext && (info.GetType() != images.TtyType_PTY || info.GetPty() == nil) {
			return fmt.Errorf("%w: tty %d of type %v is the controlling terminal of session %d", ErrUnsupported, info.GetId(), info.GetType(), sid)
		}
		var name string
		var index uint32
		if ext {
			name = "the external terminal " + extTTYKey(info)
		} else {
			index = info.GetPty().GetIndex()
			name = fmt.Sprintf("/dev/pts/%d", index)
		}
		if c := byName[name]; c != nil {
			if c2 := t.cttys[sid]; c2 != c || c.pgrp != pgrp {
				return fmt.Errorf("%w: the ends of %s disagree on its session or group", ErrBadImage, name)
			}
			continue
		}
		if c := t.cttys[sid]; c != nil {
			return fmt.Errorf("%w: session %d has two controlling terminals, %s and %s", ErrBadImage, sid, c.name, name)
		}
		if _, ok := masters[index]; !ext && !ok {
			return fmt.Errorf("%w: %s is the controlling terminal of session %d without its master", ErrUnsupported, name, sid)
		}
		if n := t.byPid[sid]; n == nil || n.sid() != sid || n.sn.zombie() {
			return fmt.Errorf("%w: %s is the controlling terminal of session %d, whose leader is not in the images", ErrBadImage, name, sid)
		}
		if pgrp != 0 {
			found := false
			for _, n := range t.nodes {
				found = found || n.pgid() == pgrp && n.sid() == sid
			}
			if !found {
				return fmt.Errorf("%w: the foreground group %d of %s has no task in session %d", ErrBadImage, pgrp, name, sid)
			}
		}
		var fd int
		if ext {
			var ok bool
			if fd, ok = t.extTTYs[info.GetId()]; !ok {
				return fmt.Errorf("%w: %s is the controlling terminal of session %d, but no task has it open", ErrBadImage, name, sid)
			}
		} else {
			path := fmt.Sprintf("/dev/pts/%d", index)
			var err error
			fd, err = unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("pty %d: %w", index, os.NewSyscallError("open "+path, err))
			}
			t.masterFds = append(t.masterFds, fd)
		}
		c := &ctty{name: name, fd: fd, pgrp: pgrp, steal: ext}
		t.cttys[sid], byName[name] = c, c
	}
	return nil
}

// withSlave runs f with fd, the session leader n's own copy of its
// terminal's slave (pidfd_getfd of the restorer's), closed again before
// it returns: the tasks n forks next must not inherit it. It runs before
// n's memory is restored, so its strings go on the stub's stack.
func (t *treeRestorer) withSlave(n *node, c *ctty, f func(fd uint64) error) error {
	r := n.r
	var pfd uint64
	var err error
	if !t.pidns() {
		pfd, err = r.sys("pidfd_open", unix.SYS_PIDFD_OPEN, uint64(os.Getpid()), 0)
	} else {
		// Inside a pid namespace of its own the task cannot name the
		// restorer's pid: it reopens the restorer's own pidfd.
		if t.selfPidfd <= 0 {
			if t.selfPidfd, err = unix.PidfdOpen(os.Getpid(), 0); err != nil {
				return os.NewSyscallError("pidfd_open", err)
			}
			t.masterFds = append(t.masterFds, t.selfPidfd)
		}
		a := stackScratch(r)
		path := append([]byte(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), t.selfPidfd)), 0)
		if err := mem.WriteRemote(r.pid, []mem.Range{{Start: a, End: a + uint64(len(path))}}, path); err != nil {
			return err
		}
		pfd, err = r.sys("open restorer pidfd", unix.SYS_OPENAT, atFdcwd, a, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return err
	}
	fd, err := r.sys("pidfd_getfd", unix.SYS_PIDFD_GETFD, pfd, uint64(c.fd), 0)
	if _, cerr := r.sys("close", unix.SYS_CLOSE, pfd); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	err = f(fd)
	if _, cerr := r.sys("close", unix.SYS_CLOSE, fd); err == nil {
		err = cerr
	}
	return err
}

// setCtty gives the session leader n, just after its setsid and before
// it forks the tasks of its session, its controlling terminal back
// (TIOCSCTTY without stealing it from another session, but an external
// terminal's, c.steal).
func (t *treeRestorer) setCtty(n *node) error {
	c := t.cttys[n.pid]
	if c == nil {
		return nil
	}
	steal := uint64(0)
	if c.steal {
		steal = 1
	}
	err := t.withSlave(n, c, func(fd uint64) error {
		_, err := n.r.sys("ioctl(TIOCSCTTY)", unix.SYS_IOCTL, fd, unix.TIOCSCTTY, steal)
		return err
	})
	if err != nil {
		return fmt.Errorf("task %d: controlling terminal %s: %w", n.pid, c.name, err)
	}
	t.log.Debug().Int("sid", n.pid).Str("tty", c.name).Msg("controlling terminal")
	return nil
}

// setForeground makes each restored controlling terminal's foreground
// group the dumped one, once every group exists (after setGroups). Right
// after TIOCSCTTY it is the leader's own, so the leader may change it
// without SIGTTOU.
func (t *treeRestorer) setForeground() error {
	for sid, c := range t.cttys {
		n := t.byPid[sid]
		if c.pgrp == 0 || c.pgrp == sid {
			continue
		}
		err := t.withSlave(n, c, func(fd uint64) error {
			a := stackScratch(n.r)
			b := make([]byte, 8)
			binary.LittleEndian.PutUint32(b, uint32(c.pgrp))
			if err := mem.WriteRemote(n.r.pid, []mem.Range{{Start: a, End: a + 8}}, b); err != nil {
				return err
			}
			_, err := n.r.sys("ioctl(TIOCSPGRP)", unix.SYS_IOCTL, fd, unix.TIOCSPGRP, a)
			return err
		})
		if err != nil {
			return fmt.Errorf("task %d: foreground group %d of %s: %w", sid, c.pgrp, c.name, err)
		}
	}
	return nil
}

// openPtmx opens a pty master with the given index.
func openPtmx(index uint32, acc int) (int, error) {
	var held []int
	defer func() {
		for _, fd := range held {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.Open("/dev/ptmx", acc|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, os.NewSyscallError("open /dev/ptmx", err)
		}
		n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		if err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("ioctl(TIOCGPTN)", err)
		}
		switch {
		case n == index:
			return fd, nil
		case n > index:
			unix.Close(fd)
			return -1, fmt.Errorf("%w: /dev/pts/%d is taken", ErrUnsupported, index)
		}
		held = append(held, fd)
	}
}

// setTTY sets the termios and window size of info on fd.
func setTTY(fd int, info *images.TtyInfoEntry) error {
	if te := info.GetTermios(); te != nil {
		tio := termios(te)
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, &tio); err != nil {
			return os.NewSyscallError("ioctl(TCSETS)", err)
		}
	}
	if te := info.GetTermiosLocked(); te != nil {
		tio := termios(te)
		if err := unix.IoctlSetTermios(fd, unix.TIOCSLCKTRMIOS, &tio); err != nil {
			return os.NewSyscallError("ioctl(TIOCSLCKTRMIOS)", err)
		}
	}
	if ws := info.GetWinsize(); ws != nil {
		w := unix.Winsize{Row: uint16(ws.GetWsRow()), Col: uint16(ws.GetWsCol()), Xpixel: uint16(ws.GetWsXpixel()), Ypixel: uint16(ws.GetWsYpixel())}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &w); err != nil {
			return os.NewSyscallError("ioctl(TIOCSWINSZ)", err)
		}
	}
	return nil
}

// termios is the struct termios of te.
func termios(te *images.TermiosEntry) unix.Termios {
	tio := unix.Termios{
		Iflag: te.GetCIflag(), Oflag: te.GetCOflag(), Cflag: te.GetCCflag(), Lflag: te.GetCLflag(),
		Line: uint8(te.GetCLine()), Ispeed: te.GetCIspeed(), Ospeed: te.GetCOspeed(),
	}
	tio.Cc = dump.UnpackCc(te.GetCCc())
	return tio
}
