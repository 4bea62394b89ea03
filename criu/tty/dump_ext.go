package tty

import (
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/tty/ptybuf"
	"github.com/criugo/criu/criu/tty/termios"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// extTTY is an external terminal that the frozen tree holds open.
type extTTY struct {
	key       string
	rdev, dev uint64
	path      string // as /proc/PID/fd shows it
	// sid and pgrp are the session whose controlling terminal it is
	// and that terminal's foreground group, host pids (0: none).
	sid, pgrp int
	// infoID is its tty_info id once its first file is dumped.
	infoID uint32
}

// scanExtTTYs finds the fds of the frozen tree on the terminals that
// Options.ExternalTTY names, before any file is dumped.
func (s *Set) scanExtTTYs() error {
	s.ext = map[string]*extTTY{}
	if len(s.opts.ExternalTTY) == 0 {
		return nil
	}
	tasks, _ := s.tasks()
	err := terminalFds(tasks, IsTTY, func(d Task, fd int, link string, st *unix.Stat_t) error {
		key := TTYKey(st.Rdev, st.Dev)
		if !s.opts.ExternalTTY[key] || s.ext[key] != nil {
			return nil
		}
		target, _ := os.Readlink(link)
		if isPtmx(st.Rdev) || unix.Major(st.Rdev) == 5 && unix.Minor(st.Rdev) == 0 {
			return fmt.Errorf("dump %d: %w", d.Pid, &errdefs.FdError{Fd: fd, Type: "terminal " + target, Err: fmt.Errorf("%w: --external %s: a pty master or /dev/tty cannot be external (only a terminal that restore can be given: a pty's slave, a serial line, a console)", errdefs.ErrUnsupported, key)})
		}
		if st.Rdev > 0xffffffff || st.Dev > 0xffffffff {
			return fmt.Errorf("dump %d: %w", d.Pid, &errdefs.FdError{Fd: fd, Type: "terminal " + target, Err: fmt.Errorf("%w: --external %s: the device numbers do not fit the image's 32-bit fields", errdefs.ErrUnsupported, key)})
		}
		s.ext[key] = &extTTY{key: key, rdev: st.Rdev, dev: st.Dev, path: target}
		return nil
	})
	if err != nil {
		return err
	}
	for key := range s.opts.ExternalTTY {
		if s.ext[key] == nil {
			s.opts.Log.Warn().Str("key", key).Msg("--external: no task of the tree has this terminal open")
		}
	}
	return s.checkExtCttys()
}

// extCtty is the external terminal that is the controlling terminal
// rdev (the tty_nr of a task's stat), or nil.
func (s *Set) extCtty(rdev uint64) *extTTY {
	if rdev == 0 {
		return nil
	}
	for _, e := range s.ext {
		if e.rdev == rdev {
			return e
		}
	}
	return nil
}

// checkExtCttys finds the session each external terminal is the
// controlling terminal of, and checks that restore can give it back as
// it gives a pty of the tree's (checkCttys): the session's leader and
// foreground group are in the tree, and every live task of the session
// has it. A session whose leader is outside the tree is the shell's,
// with ShellJob: recorded as none (restore joins the tree to the
// restorer's session), refused without.
func (s *Set) checkExtCttys() error {
	if len(s.ext) == 0 {
		return nil
	}
	keys := make([]string, 0, len(s.ext))
	for k := range s.ext {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tasks, byPid := s.tasks()
	for _, d := range tasks {
		if d.Zombie || d.Stat.TtyNr == 0 {
			continue
		}
		var match []*extTTY
		for _, k := range keys {
			if e := s.ext[k]; e.rdev == d.Stat.TtyNr {
				match = append(match, e)
			}
		}
		if len(match) == 0 {
			continue
		}
		if len(match) > 1 || s.treePty(d.Stat.TtyNr) != nil {
			return fmt.Errorf("dump %d: %w: task %d has the controlling terminal %s, and the tree holds more than one terminal of that device number (%s): which one it is cannot be told", s.opts.Pid, errdefs.ErrUnsupported, d.Pid, ttyName(d.Stat.TtyNr), match[0].key)
		}
		e := match[0]
		if e.sid != 0 && e.sid != d.Stat.Session {
			return fmt.Errorf("dump %d: %w: %s (%s) is the controlling terminal of tasks of two sessions, %d and %d", s.opts.Pid, errdefs.ErrUnsupported, e.path, e.key, e.sid, d.Stat.Session)
		}
		e.sid = d.Stat.Session
		if d.Stat.Tpgid > 0 {
			e.pgrp = d.Stat.Tpgid
		}
	}
	for _, k := range keys {
		e := s.ext[k]
		if e.sid == 0 {
			continue
		}
		if leader := byPid[e.sid]; leader == nil || leader.Zombie {
			if s.opts.ShellJob {
				e.sid, e.pgrp = 0, 0
				continue
			}
			return fmt.Errorf("dump %d: %w: %s (%s) is the controlling terminal of session %d, whose leader is not in the tree", s.opts.Pid, errdefs.ErrUnsupported, e.path, e.key, e.sid)
		}
		if e.pgrp != 0 {
			found := false
			for _, d := range tasks {
				found = found || !d.Zombie && d.Stat.Pgrp == e.pgrp && d.Stat.Session == e.sid
			}
			if !found {
				return fmt.Errorf("dump %d: %w: the foreground process group %d of %s (%s) has no task in the tree", s.opts.Pid, errdefs.ErrUnsupported, e.pgrp, e.path, e.key)
			}
		}
		for _, d := range tasks {
			if !d.Zombie && d.Stat.Session == e.sid && d.Stat.TtyNr != e.rdev {
				return fmt.Errorf("dump %d: %w: task %d of session %d has no controlling terminal, while its session's is %s (%s) (restore would give it that terminal)", s.opts.Pid, errdefs.ErrUnsupported, d.Pid, e.sid, e.path, e.key)
			}
		}
	}
	return nil
}

// External reports that the terminal rdev of the device dev is one
// that Options.ExternalTTY names and a task of the tree holds (found by
// Scan): its fds are added with AddExternal.
func (s *Set) External(rdev, dev uint64) bool { return s.ext[TTYKey(rdev, dev)] != nil }

// AddExternal records the fd f, open on an external terminal (External),
// and that terminal's tty_info the first time, and returns its file
// entry.
func (s *Set) AddExternal(f Fd, files Files) (*images.FileEntry, error) {
	e := s.ext[TTYKey(f.Stat.Rdev, f.Stat.Dev)]
	if s.infos == nil {
		s.masters, s.slaves, s.infos = map[uint32]bool{}, map[uint32]bool{}, map[uint32]*images.TtyInfoEntry{}
	}
	if e.infoID == 0 {
		index := uint32(extTTYIndexFirst + s.extCount)
		if index > extTTYIndexLast {
			return nil, fmt.Errorf("%w: more than %d external terminals (CRIU's limit)", errdefs.ErrUnsupported, extTTYIndexLast-extTTYIndexFirst+1)
		}
		info, err := s.extTTYInfo(e, f, index*2)
		if err != nil {
			return nil, err
		}
		s.extCount++
		e.infoID = index * 2
		s.infos[e.infoID] = info
	}
	id := files.NewID()
	return &images.FileEntry{Type: images.FdTypes_TTY.Enum(), Id: proto.Uint32(id), Tty: &images.TtyFileEntry{
		Id: proto.Uint32(id), TtyInfoId: proto.Uint32(e.infoID), Flags: proto.Uint32(f.Flags), Fown: image.ZeroFown(),
	}}, nil
}

// extTTYInfo reads the state of the external terminal e through a copy
// of f, for its tty_info entry id.
func (s *Set) extTTYInfo(e *extTTY, f Fd, id uint32) (*images.TtyInfoEntry, error) {
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
	if n, err := ptybuf.Queued(c); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, fmt.Errorf("%w: %d bytes of input to the external terminal %s (%s) are not yet read: they stay in that terminal, which the restored task will not have", errdefs.ErrUnsupported, n, e.path, e.key)
	}
	var sid, pgrp uint32
	if e.sid != 0 {
		tasks, byPid := s.tasks()
		sid = uint32(byPid[e.sid].VSid)
		for _, t := range tasks {
			if e.pgrp != 0 && !t.Zombie && t.Stat.Pgrp == e.pgrp && t.Stat.Session == e.sid {
				pgrp = uint32(t.VPgid)
				break
			}
		}
	}
	info := &images.TtyInfoEntry{
		Id: proto.Uint32(id), Type: images.TtyType_EXT_TTY.Enum(),
		Locked: proto.Bool(false), PacketMode: proto.Bool(false),
		Sid: proto.Uint32(sid), Pgrp: proto.Uint32(pgrp), Rdev: proto.Uint32(uint32(st.Rdev)),
		Dev: proto.Uint32(uint32(st.Dev)), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid),
	}
	term.Fill(info)
	return info, nil
}
