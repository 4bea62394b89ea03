package tty

import (
	"fmt"
	"os"

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

// Terminals that are devices of their own, opened again by path:
// /dev/console (5:1) and the virtual terminals /dev/tty1../dev/tty63
// (4:1-63), CRIU's CONSOLE and VT. As CRIU writes them, each file is a
// tty_file with the regular file of its path (regf_id), and the
// terminal one tty_info entry, numbered from CRIU's index (CONSOLE_INDEX
// 1002, VT_INDEX 1004, times two) with its termios, locked termios,
// window size and exclusive mode. All virtual terminals share VT's one
// entry in CRIU's numbering, so the files of a second one are refused.
// As a session's controlling terminal, with its foreground group, it is
// given back as a pty of the tree's is (SetCtty, SetForeground), its
// leader and group in the tree. Refused by name too: input waiting
// unread on it (it would stay behind in the terminal, read by whoever
// reads it next).
const (
	consoleMajor, consoleMinor = 5, 1
	vtMajor, vtMinorLast       = 4, 63
	consoleInfoID              = 1002 * 2
	vtInfoID                   = 1004 * 2
)

// IsSimple reports /dev/console or a virtual terminal.
func IsSimple(rdev uint64) bool {
	maj, min := unix.Major(rdev), unix.Minor(rdev)
	return maj == consoleMajor && min == consoleMinor || maj == vtMajor && min >= 1 && min <= vtMinorLast
}

// Kept reports a terminal whose files the dump keeps (AddTerminal): an
// end of a pty, the console, a virtual terminal or /dev/tty (alias.go).
func Kept(rdev uint64) bool { return IsPty(rdev) || IsSimple(rdev) || isCttyAlias(rdev) }

// simpleName is the path of the console or virtual terminal rdev.
func simpleName(rdev uint64) string {
	if unix.Major(rdev) == consoleMajor {
		return "/dev/console"
	}
	return fmt.Sprintf("/dev/tty%d", unix.Minor(rdev))
}

// simpleHeld reports that a live task of the tree holds an fd on the
// console or virtual terminal rdev.
func (s *Set) simpleHeld(rdev uint64) bool {
	tasks, _ := s.tasks()
	errHeld := fmt.Errorf("held")
	err := terminalFds(tasks, func(r uint64) bool { return r == rdev }, func(Task, int, string, *unix.Stat_t) error { return errHeld })
	return err == errHeld
}

// simpleCtty gives the session (its id in the images) whose
// controlling terminal the console or virtual terminal rdev is, and its
// foreground group, 0 and 0 for none; it refuses what restore cannot
// give back as it was: a session whose leader is not in the tree (a
// login on the terminal: --shell-job gives the task the restorer's), a
// task of that session without it, a foreground group with no task in
// the tree.
func (s *Set) simpleCtty(rdev uint64, name string) (sid, pgrp uint32, err error) {
	tasks, byPid := s.tasks()
	hsid, hpg := 0, 0
	for _, d := range tasks {
		if d.Zombie || d.Stat.TtyNr != rdev {
			continue
		}
		if hsid != 0 && d.Stat.Session != hsid {
			return 0, 0, fmt.Errorf("%w: %s is the controlling terminal of tasks of two sessions, %d and %d", errdefs.ErrUnsupported, name, hsid, d.Stat.Session)
		}
		hsid = d.Stat.Session
		if d.Stat.Tpgid > 0 {
			hpg = d.Stat.Tpgid
		}
	}
	if hsid == 0 {
		return 0, 0, nil
	}
	leader := byPid[hsid]
	if leader == nil || leader.Zombie {
		return 0, 0, fmt.Errorf("%w: %s is the controlling terminal of session %d, whose leader is not in the tree (a login on it: dump with --shell-job)", errdefs.ErrUnsupported, name, hsid)
	}
	for _, d := range tasks {
		if !d.Zombie && d.Stat.Session == hsid && d.Stat.TtyNr != rdev {
			return 0, 0, fmt.Errorf("%w: task %d of session %d has no controlling terminal, while its session's is %s (restore would give it that terminal)", errdefs.ErrUnsupported, d.Pid, hsid, name)
		}
	}
	sid = uint32(leader.VSid)
	if hpg != 0 {
		for _, d := range tasks {
			if !d.Zombie && d.Stat.Pgrp == hpg && d.Stat.Session == hsid {
				return sid, uint32(d.VPgid), nil
			}
		}
		return 0, 0, fmt.Errorf("%w: the foreground process group %d of %s has no task in the tree", errdefs.ErrUnsupported, hpg, name)
	}
	return sid, 0, nil
}

// AddTerminal records fd f on a terminal that Kept reports and returns
// its file entry.
func (s *Set) AddTerminal(f Fd, files Files) (*images.FileEntry, error) {
	if IsPty(f.Stat.Rdev) {
		return s.AddPty(f, files)
	}
	if s.infos == nil {
		s.masters, s.slaves, s.infos = map[uint32]bool{}, map[uint32]bool{}, map[uint32]*images.TtyInfoEntry{}
	}
	if isCttyAlias(f.Stat.Rdev) {
		return s.addAlias(f, files)
	}
	st, name := f.Stat, simpleName(f.Stat.Rdev)
	typ, infoID := images.TtyType_VT, uint32(vtInfoID)
	if unix.Major(st.Rdev) == consoleMajor {
		typ, infoID = images.TtyType_CONSOLE, consoleInfoID
	}
	sid, pgrp, err := s.simpleCtty(st.Rdev, name)
	if err != nil {
		return nil, err
	}
	if info := s.infos[infoID]; info != nil {
		if uint64(info.GetRdev()) != st.Rdev {
			return nil, fmt.Errorf("%w: a second virtual terminal %s (CRIU's images have one entry for all, taken by %s)", errdefs.ErrUnsupported, name, simpleName(uint64(info.GetRdev())))
		}
	} else {
		info, err := simpleInfo(f, typ, infoID, name)
		if err != nil {
			return nil, err
		}
		info.Sid, info.Pgrp = proto.Uint32(sid), proto.Uint32(pgrp)
		s.infos[infoID] = info
	}
	regID, err := files.AddReg(name, procfs.Path(f.Pid, fmt.Sprintf("fd/%d", f.Fd)), f.Flags)
	if err != nil {
		return nil, err
	}
	id := files.NewID()
	return &images.FileEntry{Type: images.FdTypes_TTY.Enum(), Id: proto.Uint32(id), Tty: &images.TtyFileEntry{
		Id: proto.Uint32(id), TtyInfoId: proto.Uint32(infoID), Flags: proto.Uint32(f.Flags), Fown: image.ZeroFown(), RegfId: proto.Uint32(regID),
	}}, nil
}

// simpleInfo reads the settings of the console or virtual terminal at f.
func simpleInfo(f Fd, typ images.TtyType, id uint32, name string) (*images.TtyInfoEntry, error) {
	c, err := linux.CopyFd(f.Pid, f.Fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(c)
	term, err := termios.Read(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if n, err := ptybuf.Queued(c); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, fmt.Errorf("%w: %d bytes of input to %s are not yet read: they would stay in the terminal, not in the restored task", errdefs.ErrUnsupported, n, name)
	}
	st := f.Stat
	info := &images.TtyInfoEntry{
		Id: proto.Uint32(id), Type: typ.Enum(), Locked: proto.Bool(false), PacketMode: proto.Bool(false),
		Sid: proto.Uint32(0), Pgrp: proto.Uint32(0), Rdev: proto.Uint32(uint32(st.Rdev)),
		Dev: proto.Uint32(uint32(st.Dev)), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid),
	}
	term.Fill(info)
	return info, nil
}

// openSimple opens, in the restorer, the files among ids that are of the
// console or a virtual terminal, by the path of their regular file (the
// device must be the dumped one), with the dumped access mode and status
// flags, and sets the terminal's settings once; it returns the other ids.
func (t *Terminals) openSimple(ids []uint32) ([]uint32, error) {
	var rest []uint32
	done := map[uint32]int{}
	for _, id := range ids {
		f := t.files[id].GetTty()
		info := t.info[f.GetTtyInfoId()]
		if info == nil || info.GetType() != images.TtyType_CONSOLE && info.GetType() != images.TtyType_VT {
			rest = append(rest, id)
			continue
		}
		if info.GetPty() != nil || info.GetTermios() == nil {
			return nil, fmt.Errorf("%w: tty %d (%v): pty data, or no termios", errdefs.ErrBadImage, info.GetId(), info.GetType())
		}
		name := t.files[f.GetRegfId()].GetReg().GetName()
		if name == "" {
			return nil, fmt.Errorf("%w: tty file %d (%v) has no path (regf_id %d)", errdefs.ErrBadImage, id, info.GetType(), f.GetRegfId())
		}
		fd, err := unix.Open(name, int(f.GetFlags())|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", t.tree.FileUser(id), name, os.NewSyscallError("open", err))
		}
		t.hold(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, os.NewSyscallError("fstat "+name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || uint32(st.Rdev) != info.GetRdev() {
			return nil, fmt.Errorf("%w: %s is device %d:%d here, not the dumped %d:%d", errdefs.ErrUnsupported, name, unix.Major(st.Rdev), unix.Minor(st.Rdev), unix.Major(uint64(info.GetRdev())), unix.Minor(uint64(info.GetRdev())))
		}
		t.share(id, fd)
		if _, ok := done[info.GetId()]; !ok {
			if err := termios.Set(fd, info); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			done[info.GetId()] = fd
			if t.simple == nil {
				t.simple = map[uint32]int{}
			}
			t.simple[info.GetId()] = fd
		}
	}
	// Exclusive mode last: it refuses new opens.
	for iid, fd := range done {
		if t.info[iid].GetExclusive() {
			if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
				return nil, os.NewSyscallError("ioctl(TIOCEXCL)", err)
			}
		}
	}
	return rest, nil
}
