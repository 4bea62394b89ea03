package tty

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/tty/termios"
	"github.com/criugo/criu/proto/images"
)

// extTTYKey is CRIU's --inherit-fd key of the external terminal info.
func extTTYKey(info *images.TtyInfoEntry) string {
	return TTYKey(uint64(info.GetRdev()), uint64(info.GetDev()))
}

// openExtTTYs opens, in the restorer, the files ids whose terminal is
// external, from criu's inherited fds, and returns the other ids.
func (t *Terminals) openExtTTYs(ids []uint32) ([]uint32, error) {
	var rest []uint32
	if t.extTTYs == nil {
		t.extTTYs = map[uint32]int{}
	}
	var opened []*images.TtyInfoEntry
	for _, id := range ids {
		f := t.files[id].GetTty()
		info := t.info[f.GetTtyInfoId()]
		if info == nil || info.GetType() != images.TtyType_EXT_TTY {
			rest = append(rest, id)
			continue
		}
		if info.GetPty() != nil || info.GetTermios() == nil {
			return nil, fmt.Errorf("%w: external tty %d: pty data, or no termios", errdefs.ErrBadImage, info.GetId())
		}
		key := extTTYKey(info)
		in, ok := t.tree.InheritedFd(key)
		if !ok {
			return nil, fmt.Errorf("%w: %s the terminal %s, whose other end was outside the tree at dump (criu dump --external): restore with --inherit-fd fd[N]:%s, N an fd of criu's on the terminal that takes its place", errdefs.ErrUnsupported, t.tree.FileUser(id), key, key)
		}
		fd, err := t.openInheritedTTY(in, f.GetFlags())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		t.hold(fd)
		t.share(id, fd)
		if _, ok := t.extTTYs[info.GetId()]; ok {
			continue
		}
		if err := termios.Set(fd, info); err != nil {
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

// openInheritedTTY opens criu's terminal fd anew with the access mode and
// status flags of a dumped file of a terminal. It must be a terminal, and
// neither a pty master nor /dev/tty, which an open through /proc would
// make another terminal of.
func (t *Terminals) openInheritedTTY(fd int, flags uint32) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, fmt.Errorf("inherited fd %d: %w", fd, os.NewSyscallError("fstat", err))
	}
	if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); st.Mode&unix.S_IFMT != unix.S_IFCHR || err != nil {
		return -1, fmt.Errorf("%w: inherited fd %d is not a terminal", errdefs.ErrUnsupported, fd)
	}
	maj, min := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	if maj == 5 && (min == 0 || min == 2) || maj >= 128 && maj <= 135 {
		return -1, fmt.Errorf("%w: inherited fd %d is a pty master or /dev/tty (device %d:%d): give the terminal itself (a pty's slave)", errdefs.ErrUnsupported, fd, maj, min)
	}
	return t.tree.ReopenInherited(fd, flags)
}
