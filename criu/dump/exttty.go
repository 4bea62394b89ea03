package dump

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// External terminals (Options.ExternalTTY, criu dump --external
// tty[RDEV:DEV], CRIU's): a terminal whose other end is outside the tree,
// such as a container's console (runc's terminal: true, conmon), whose
// pty master the supervisor holds, or a tmux pane dumped by its shell.
// It cannot be made anew: restore is given the terminal that takes its
// place (criu restore --inherit-fd fd[N]:tty[RDEV:DEV]).
//
// As CRIU, each such terminal is one tty_info entry of type EXT_TTY,
// with its device (rdev) and its file's device (dev), termios, locked
// termios, window size and exclusive mode, numbered from CRIU's first
// external index 1013 (tty_info id index*2); its files (TtyFileEntry)
// have no regf_id. Unlike CRIU, who asks the task (TIOCGSID through its
// parasite), the session whose controlling terminal it is and its
// foreground group are read from the tasks' /proc stat (tty_nr, tpgid):
// a session of the tree with its leader in it (checkExtCttys), which
// restore gives the terminal back (TIOCSCTTY, TIOCSPGRP), as CRIU does.
//
// Refused by name: a pty master or /dev/tty given as external (neither
// is a terminal a caller can hand over), input waiting unread on the
// terminal (it stays in the old terminal, which the restored task will
// not have; a partial line in canonical mode is not counted by the
// kernel and is lost, as in CRIU), a controlling terminal the tree's
// fds cannot tell from another terminal of the same device number, and
// more than CRIU's 64 external terminals.

// CRIU's indexes of external terminals (ETTY_INDEX+1 .. ETTY_INDEX_MAX).
const (
	extTTYIndexFirst = 1013
	extTTYIndexLast  = 1076
)

// TTYKey is CRIU's name of a terminal, for --external and --inherit-fd:
// tty[RDEV:DEV], the device of the terminal and the device of its file
// (its devpts instance), in hex as CRIU prints them (lower case, no
// leading zeros): /dev/pts/1 of devpts 0:26 is tty[8801:1a].
func TTYKey(rdev, dev uint64) string { return fmt.Sprintf("tty[%x:%x]", rdev, dev) }

// ParseTTYKey reads tty[RDEV:DEV] (RDEV and DEV in hex) and returns it
// as TTYKey writes it. ok is false when s is not of the tty form.
func ParseTTYKey(s string) (key string, ok bool, err error) {
	rest, found := strings.CutPrefix(s, "tty[")
	if !found {
		return "", false, nil
	}
	inner, found := strings.CutSuffix(rest, "]")
	a, b, found2 := strings.Cut(inner, ":")
	if !found || !found2 {
		return "", true, fmt.Errorf("%q: want tty[RDEV:DEV], the terminal's device and its file's device in hex", s)
	}
	rdev, err1 := strconv.ParseUint(strings.TrimPrefix(a, "0x"), 16, 32)
	dev, err2 := strconv.ParseUint(strings.TrimPrefix(b, "0x"), 16, 32)
	if err1 != nil || err2 != nil {
		return "", true, fmt.Errorf("%q: RDEV and DEV must be 32-bit hex numbers", s)
	}
	return TTYKey(rdev, dev), true, nil
}

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
func (t *tree) scanExtTTYs() error {
	t.ttys.ext = map[string]*extTTY{}
	if len(t.opts.ExternalTTY) == 0 {
		return nil
	}
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
			link := procfs.Path(d.pid, fmt.Sprintf("fd/%d", fd))
			if unix.Stat(link, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || !isTTY(st.Rdev) {
				continue
			}
			key := TTYKey(st.Rdev, st.Dev)
			if !t.opts.ExternalTTY[key] || t.ttys.ext[key] != nil {
				continue
			}
			target, _ := os.Readlink(link)
			if isPtmx(st.Rdev) || unix.Major(st.Rdev) == 5 && unix.Minor(st.Rdev) == 0 {
				return fmt.Errorf("dump %d: %w", d.pid, &FdError{Fd: fd, Type: "terminal " + target, Err: fmt.Errorf("%w: --external %s: a pty master or /dev/tty cannot be external (only a terminal that restore can be given: a pty's slave, a serial line, a console)", ErrUnsupported, key)})
			}
			if st.Rdev > 0xffffffff || st.Dev > 0xffffffff {
				return fmt.Errorf("dump %d: %w", d.pid, &FdError{Fd: fd, Type: "terminal " + target, Err: fmt.Errorf("%w: --external %s: the device numbers do not fit the image's 32-bit fields", ErrUnsupported, key)})
			}
			t.ttys.ext[key] = &extTTY{key: key, rdev: st.Rdev, dev: st.Dev, path: target}
		}
	}
	for key := range t.opts.ExternalTTY {
		if t.ttys.ext[key] == nil {
			t.opts.Log.Warn().Str("key", key).Msg("--external: no task of the tree has this terminal open")
		}
	}
	return t.checkExtCttys()
}

// extCtty is the external terminal that is the controlling terminal
// rdev (the tty_nr of a task's stat), or nil.
func (ts *ttySet) extCtty(rdev uint64) *extTTY {
	if rdev == 0 {
		return nil
	}
	for _, e := range ts.ext {
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
func (t *tree) checkExtCttys() error {
	if len(t.ttys.ext) == 0 {
		return nil
	}
	keys := make([]string, 0, len(t.ttys.ext))
	for k := range t.ttys.ext {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, d := range t.tasks {
		if d.zombie || d.stat.TtyNr == 0 {
			continue
		}
		var match []*extTTY
		for _, k := range keys {
			if e := t.ttys.ext[k]; e.rdev == d.stat.TtyNr {
				match = append(match, e)
			}
		}
		if len(match) == 0 {
			continue
		}
		if len(match) > 1 || t.ttys.treePty(d.stat.TtyNr) != nil {
			return fmt.Errorf("dump %d: %w: task %d has the controlling terminal %s, and the tree holds more than one terminal of that device number (%s): which one it is cannot be told", t.opts.Pid, ErrUnsupported, d.pid, ttyName(d.stat.TtyNr), match[0].key)
		}
		e := match[0]
		if e.sid != 0 && e.sid != d.stat.Session {
			return fmt.Errorf("dump %d: %w: %s (%s) is the controlling terminal of tasks of two sessions, %d and %d", t.opts.Pid, ErrUnsupported, e.path, e.key, e.sid, d.stat.Session)
		}
		e.sid = d.stat.Session
		if d.stat.Tpgid > 0 {
			e.pgrp = d.stat.Tpgid
		}
	}
	for _, k := range keys {
		e := t.ttys.ext[k]
		if e.sid == 0 {
			continue
		}
		if leader := t.byPid[e.sid]; leader == nil || leader.zombie {
			if t.opts.ShellJob {
				e.sid, e.pgrp = 0, 0
				continue
			}
			return fmt.Errorf("dump %d: %w: %s (%s) is the controlling terminal of session %d, whose leader is not in the tree", t.opts.Pid, ErrUnsupported, e.path, e.key, e.sid)
		}
		if e.pgrp != 0 {
			found := false
			for _, d := range t.tasks {
				found = found || !d.zombie && d.stat.Pgrp == e.pgrp && d.stat.Session == e.sid
			}
			if !found {
				return fmt.Errorf("dump %d: %w: the foreground process group %d of %s (%s) has no task in the tree", t.opts.Pid, ErrUnsupported, e.pgrp, e.path, e.key)
			}
		}
		for _, d := range t.tasks {
			if !d.zombie && d.stat.Session == e.sid && d.stat.TtyNr != e.rdev {
				return fmt.Errorf("dump %d: %w: task %d of session %d has no controlling terminal, while its session's is %s (%s) (restore would give it that terminal)", t.opts.Pid, ErrUnsupported, d.pid, e.sid, e.path, e.key)
			}
		}
	}
	return nil
}

// addExtTTY records fd, open on the external terminal e with the file
// flags flags, and e's tty_info the first time.
func (d *dumper) addExtTTY(e *extTTY, fd int, st *unix.Stat_t, flags uint32) (*images.FileEntry, error) {
	ts := &d.t.ttys
	if ts.infos == nil {
		ts.masters, ts.slaves, ts.infos = map[uint32]bool{}, map[uint32]bool{}, map[uint32]*images.TtyInfoEntry{}
	}
	if e.infoID == 0 {
		index := uint32(extTTYIndexFirst + ts.extCount)
		if index > extTTYIndexLast {
			return nil, fmt.Errorf("%w: more than %d external terminals (CRIU's limit)", ErrUnsupported, extTTYIndexLast-extTTYIndexFirst+1)
		}
		info, err := d.extTTYInfo(e, fd, st, index*2)
		if err != nil {
			return nil, err
		}
		ts.extCount++
		e.infoID = index * 2
		ts.infos[e.infoID] = info
	}
	id := d.files.id()
	return &images.FileEntry{Type: images.FdTypes_TTY.Enum(), Id: proto.Uint32(id), Tty: &images.TtyFileEntry{
		Id: proto.Uint32(id), TtyInfoId: proto.Uint32(e.infoID), Flags: proto.Uint32(flags), Fown: zeroFown(),
	}}, nil
}

// extTTYInfo reads the state of the external terminal e through a copy
// of fd, for its tty_info entry id.
func (d *dumper) extTTYInfo(e *extTTY, fd int, st *unix.Stat_t, id uint32) (*images.TtyInfoEntry, error) {
	c, err := copyFd(d.pid, fd)
	if err != nil {
		return nil, err
	}
	defer unix.Close(c)
	term, err := readTermState(c)
	if err != nil {
		return nil, err
	}
	if n, err := queued(c); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, fmt.Errorf("%w: %d bytes of input to the external terminal %s (%s) are not yet read: they stay in that terminal, which the restored task will not have", ErrUnsupported, n, e.path, e.key)
	}
	var sid, pgrp uint32
	if e.sid != 0 {
		sid = uint32(d.t.byPid[e.sid].vsid)
		for _, t := range d.t.tasks {
			if e.pgrp != 0 && !t.zombie && t.stat.Pgrp == e.pgrp && t.stat.Session == e.sid {
				pgrp = uint32(t.vpgid)
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
	term.fill(info)
	return info, nil
}
