package dump

import (
	"context"
	"fmt"
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
	pidfd, err := unix.PidfdOpen(d.pid, 0)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pidfd)
	c, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_getfd", err)
	}
	defer unix.Close(c)
	tio, err := unix.IoctlGetTermios(c, unix.TCGETS)
	if err != nil {
		return nil, os.NewSyscallError("ioctl(TCGETS)", err)
	}
	ws, err := unix.IoctlGetWinsize(c, unix.TIOCGWINSZ)
	if err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGWINSZ)", err)
	}
	excl, err := unix.IoctlGetInt(c, unix.TIOCGEXCL)
	if err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGEXCL)", err)
	}
	// Bytes waiting to be read on this end: not saved (tty-data.img),
	// so refused rather than lost.
	if n, err := unix.IoctlGetInt(c, unix.TIOCINQ); err == nil && n > 0 {
		return nil, fmt.Errorf("%w: pty %d has %d unread bytes", ErrUnsupported, index, n)
	}
	info := &images.TtyInfoEntry{
		Id: proto.Uint32(index*2 + b2u(master)), Type: images.TtyType_PTY.Enum(),
		Exclusive: proto.Bool(excl != 0), Sid: proto.Uint32(0), Pgrp: proto.Uint32(0),
		Rdev: proto.Uint32(uint32(st.Rdev)), Termios: termiosEntry(tio),
		Winsize: &images.WinsizeEntry{WsRow: proto.Uint32(uint32(ws.Row)), WsCol: proto.Uint32(uint32(ws.Col)),
			WsXpixel: proto.Uint32(uint32(ws.Xpixel)), WsYpixel: proto.Uint32(uint32(ws.Ypixel))},
		Pty: &images.TtyPtyEntry{Index: proto.Uint32(index)},
		Dev: proto.Uint32(uint32(st.Dev)), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid),
		Locked: proto.Bool(false), PacketMode: proto.Bool(false),
	}
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
	} else {
		// A slave that is some session's controlling terminal: the
		// session is not restored onto it.
		if sid, err := unix.IoctlGetInt(c, unix.TIOCGSID); err == nil && sid > 0 {
			return nil, fmt.Errorf("%w: pty %d is the controlling terminal of session %d", ErrUnsupported, index, sid)
		}
	}
	return info, nil
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
	for _, c := range t.Cc {
		e.CCc = append(e.CCc, uint32(c))
	}
	return e
}

// write checks that every pty slave has its master in the tree and
// writes tty-info.img.
func (ts *ttySet) write(ctx context.Context, s image.Store) error {
	if len(ts.infos) == 0 {
		return nil
	}
	for i := range ts.slaves {
		if !ts.masters[i] {
			return fmt.Errorf("%w: /dev/pts/%d is open but its master is not in the tree", ErrUnsupported, i)
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
	return image.WriteImage(ctx, s, "tty-info.img", ms...)
}
