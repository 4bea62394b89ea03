package tty

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/tty/termios"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// /dev/tty (5:0), the alias of the opener's controlling terminal: the
// file is /dev/tty's, the terminal behind it the one that was the
// opener's controlling terminal then (TIOCGDEV names it). It is kept,
// as CRIU's CTTY (tty_info 2012, one entry, with the session; each file
// a tty_file with /dev/tty as its regular file), when the terminal
// behind it is its task's controlling terminal now and one restore gives
// back (a pty of the tree's, or an external terminal): the session
// leader opens /dev/tty again right after it has taken its terminal
// (SetCtty), and the restorer takes that file for the tasks. Refused by
// name: /dev/tty leading elsewhere (the task changed session since),
// and /dev/tty files of a second session (CRIU's one entry).
const (
	cttyMajor, cttyMinor = 5, 0
	cttyInfoID           = 1006 * 2
)

func isCttyAlias(rdev uint64) bool {
	return unix.Major(rdev) == cttyMajor && unix.Minor(rdev) == cttyMinor
}

// aliasTarget is the terminal behind the /dev/tty file at fd of pid.
func aliasTarget(pid, fd int) (uint64, *termios.State, error) {
	c, err := linux.CopyFd(pid, fd)
	if err != nil {
		return 0, nil, err
	}
	defer unix.Close(c)
	dev, err := unix.IoctlGetUint32(c, unix.TIOCGDEV)
	if err != nil {
		return 0, nil, os.NewSyscallError("ioctl(TIOCGDEV)", err)
	}
	term, err := termios.Read(c)
	if err != nil {
		return 0, nil, err
	}
	return uint64(dev), term, nil
}

// aliasKept reports that the /dev/tty file at fd of d leads to d's
// controlling terminal, which restore gives back.
func (s *Set) aliasKept(d Task, fd int) (uint64, *termios.State, error) {
	dev, term, err := aliasTarget(d.Pid, fd)
	if err != nil {
		return 0, nil, err
	}
	if dev != d.Stat.TtyNr {
		return 0, nil, fmt.Errorf("%w: /dev/tty leads to %s, which is not the task's controlling terminal (%s) now", errdefs.ErrUnsupported, ttyName(dev), ttyName(d.Stat.TtyNr))
	}
	if h := s.treePty(dev); (h == nil || h.sid == 0) && s.extCtty(dev) == nil && !(IsSimple(dev) && s.simpleHeld(dev)) {
		return 0, nil, fmt.Errorf("%w: /dev/tty leads to %s, a terminal that is not the tree's own: %w", errdefs.ErrUnsupported, ttyName(dev), errdefs.ErrShellJob)
	}
	return dev, term, nil
}

// addAlias records fd f, on /dev/tty, and returns its file entry.
func (s *Set) addAlias(f Fd, files Files) (*images.FileEntry, error) {
	_, byPid := s.tasks()
	d := byPid[f.Pid]
	if d == nil {
		return nil, fmt.Errorf("task %d is not in the tree", f.Pid)
	}
	_, term, err := s.aliasKept(*d, f.Fd)
	if err != nil {
		return nil, err
	}
	if info := s.infos[cttyInfoID]; info != nil {
		if info.GetSid() != uint32(d.VSid) {
			return nil, fmt.Errorf("%w: /dev/tty of a second session %d (CRIU's images have one entry for all, taken by session %d)", errdefs.ErrUnsupported, d.VSid, info.GetSid())
		}
	} else {
		st := f.Stat
		info := &images.TtyInfoEntry{
			Id: proto.Uint32(cttyInfoID), Type: images.TtyType_CTTY.Enum(), Locked: proto.Bool(false), PacketMode: proto.Bool(false),
			Sid: proto.Uint32(uint32(d.VSid)), Pgrp: proto.Uint32(0), Rdev: proto.Uint32(uint32(st.Rdev)),
			Dev: proto.Uint32(uint32(st.Dev)), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid),
		}
		term.Fill(info)
		s.infos[cttyInfoID] = info
	}
	regID, err := files.AddReg("/dev/tty", procfs.Path(f.Pid, fmt.Sprintf("fd/%d", f.Fd)), f.Flags)
	if err != nil {
		return nil, err
	}
	id := files.NewID()
	return &images.FileEntry{Type: images.FdTypes_TTY.Enum(), Id: proto.Uint32(id), Tty: &images.TtyFileEntry{
		Id: proto.Uint32(id), TtyInfoId: proto.Uint32(cttyInfoID), Flags: proto.Uint32(f.Flags), Fown: image.ZeroFown(), RegfId: proto.Uint32(regID),
	}}, nil
}

// takeAliases sets aside the /dev/tty files among ids, by the session
// whose leader opens them again (openAliases), and returns the others.
// Their entry's settings are the terminal's, which its own entry holds:
// they are not set again.
func (t *Terminals) takeAliases(ids []uint32) ([]uint32, error) {
	var rest []uint32
	for _, id := range ids {
		f := t.files[id].GetTty()
		info := t.info[f.GetTtyInfoId()]
		if info == nil || info.GetType() != images.TtyType_CTTY {
			rest = append(rest, id)
			continue
		}
		if info.GetSid() == 0 {
			return nil, fmt.Errorf("%w: /dev/tty (tty %d) of no session", errdefs.ErrBadImage, info.GetId())
		}
		if t.aliases == nil {
			t.aliases = map[int][]uint32{}
		}
		sid := int(info.GetSid())
		t.aliases[sid] = append(t.aliases[sid], id)
	}
	return rest, nil
}

// openAliases has the session leader sid (r), which has just taken its
// controlling terminal, open /dev/tty for each such file of its session,
// and takes the file into the restorer for the tasks.
func (t *Terminals) openAliases(sid int, r Remote) error {
	ids := t.aliases[sid]
	delete(t.aliases, sid)
	for _, id := range ids {
		f := t.files[id].GetTty()
		a := r.Scratch()
		path := []byte("/dev/tty\x00")
		if err := mem.WriteRemote(r.Pid(), []mem.Range{{Start: a, End: a + uint64(len(path))}}, path); err != nil {
			return err
		}
		flags := uint64(f.GetFlags()) | unix.O_NOCTTY | unix.O_CLOEXEC
		fd, err := r.Syscall("openat(/dev/tty)", unix.SYS_OPENAT, atFdcwd, a, flags, 0)
		if err != nil {
			return fmt.Errorf("%s /dev/tty: %w", t.tree.FileUser(id), err)
		}
		mine, err := linux.CopyFd(r.Pid(), int(fd))
		if _, cerr := r.Syscall("close", unix.SYS_CLOSE, fd); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		t.hold(mine)
		t.share(id, mine)
	}
	return nil
}

// checkAliases fails when a /dev/tty file was not opened: its session's
// leader did not take a controlling terminal.
func (t *Terminals) checkAliases() error {
	for sid, ids := range t.aliases {
		return fmt.Errorf("%w: %s /dev/tty of session %d, whose controlling terminal the images do not give back", errdefs.ErrBadImage, t.tree.FileUser(ids[0]), sid)
	}
	return nil
}
