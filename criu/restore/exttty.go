package restore

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/proto/images"
)

// External terminals (EXT_TTY in tty-info.img; criu dump --external
// tty[RDEV:DEV]): a terminal whose other end was outside the tree at
// dump, such as a container's console. It is not made anew: the restore
// must be given the terminal that takes its place, with --inherit-fd
// fd[N]:tty[RDEV:DEV] (the key of the dumped one, as CRIU names it);
// without it the restore fails naming the key, the task and the fd.
//
// Each file of such a terminal is criu's fd N opened anew through
// /proc/self/fd/N (O_NOCTTY), with the dumped access mode and status
// flags: a description of its own, which the task's fcntls do not share
// with the caller's (CRIU hands over a copy of fd N itself). As CRIU,
// the terminal is then given the dumped termios, locked termios and
// window size, and its exclusive mode; and when it was the controlling
// terminal of a session of the tree, its leader takes it again right
// after its setsid (setCtty, TIOCSCTTY) and its foreground group is set
// back (setForeground), as for a pty of the tree's own; taken, as CRIU,
// even from a session whose controlling terminal it is now (criu's own,
// when criu runs in the terminal it hands over: tmux new-window 'criu
// restore --inherit-fd fd[0]:tty[...]'). fd N must be a
// terminal; a pty master or /dev/tty is refused (reopened, either would
// be another terminal).

// extTTYKey is CRIU's --inherit-fd key of the external terminal info.
func extTTYKey(info *images.TtyInfoEntry) string {
	return dump.TTYKey(uint64(info.GetRdev()), uint64(info.GetDev()))
}

// openExtTTYs opens, in the restorer, the files ids whose terminal is
// external, from criu's inherited fds, and returns the other ids.
func (t *treeRestorer) openExtTTYs(ids []uint32) ([]uint32, error) {
	var rest []uint32
	if t.extTTYs == nil {
		t.extTTYs = map[uint32]int{}
	}
	var opened []*images.TtyInfoEntry
	for _, id := range ids {
		f := t.ti.files[id].GetTty()
		info := t.ti.ttyInfo[f.GetTtyInfoId()]
		if info == nil || info.GetType() != images.TtyType_EXT_TTY {
			rest = append(rest, id)
			continue
		}
		if info.GetPty() != nil || info.GetTermios() == nil {
			return nil, fmt.Errorf("%w: external tty %d: pty data, or no termios", ErrBadImage, info.GetId())
		}
		key := extTTYKey(info)
		in, ok := t.inheritedFd(key)
		if !ok {
			return nil, fmt.Errorf("%w: %s the terminal %s, whose other end was outside the tree at dump (criu dump --external): restore with --inherit-fd fd[N]:%s, N an fd of criu's on the terminal that takes its place", ErrUnsupported, t.fileUser(id), key, key)
		}
		fd, err := openInheritedTTY(in, f.GetFlags())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		t.masterFds = append(t.masterFds, fd)
		t.masters[id] = fd
		if _, ok := t.extTTYs[info.GetId()]; ok {
			continue
		}
		if err := setTTY(fd, info); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		t.extTTYs[info.GetId()] = fd
		opened = append(opened, info)
		t.log.Debug().Str("key", key).Int("fd", in).Msg("external terminal inherited")
	}
	// Exclusive mode last: it refuses new opens.
	for _, info := range opened {
		if info.GetExclusive() {
			if err := unix.IoctlSetInt(t.extTTYs[info.GetId()], unix.TIOCEXCL, 0); err != nil {
				return nil, fmt.Errorf("%s: %w", extTTYKey(info), os.NewSyscallError("ioctl(TIOCEXCL)", err))
			}
		}
	}
	return rest, nil
}

// fileUser names, for errors, the first task and fd that have file id:
// "task PID fd N has".
func (t *treeRestorer) fileUser(id uint32) string {
	for _, n := range t.nodes {
		for _, fi := range n.sn.fdinfo {
			if fi.GetId() == id {
				return fmt.Sprintf("task %d fd %d has", n.pid, fi.GetFd())
			}
		}
	}
	return fmt.Sprintf("file %d is", id)
}

// openInheritedTTY opens criu's terminal fd anew with the access mode and
// status flags of a dumped file of a terminal. It must be a terminal, and
// neither a pty master nor /dev/tty, which an open through /proc would
// make another terminal of.
func openInheritedTTY(fd int, flags uint32) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, fmt.Errorf("inherited fd %d: %w", fd, os.NewSyscallError("fstat", err))
	}
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); st.Mode&unix.S_IFMT != unix.S_IFCHR || err != nil {
		return -1, fmt.Errorf("%w: inherited fd %d is not a terminal", ErrUnsupported, fd)
	}
	maj, min := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	if maj == 5 && (min == 0 || min == 2) || maj >= 128 && maj <= 135 {
		return -1, fmt.Errorf("%w: inherited fd %d is a pty master or /dev/tty (device %d:%d): give the terminal itself (a pty's slave)", ErrUnsupported, fd, maj, min)
	}
	return reopenInherited(fd, flags)
}
