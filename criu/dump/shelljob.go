package dump

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
)

// A task started from an interactive shell is tied to that shell: its
// stdio is the shell's terminal (or pipes to other commands of the
// pipeline), its session is the shell's, and its terminal is the
// controlling terminal of that session. None of that is in the tree.
//
// Without ShellJob such a task is refused, as CRIU does: the root must be
// a session leader and no task may hold a terminal (an open fd, or a
// controlling terminal). With ShellJob, fds 0-2 on a terminal, or on a
// pipe or socket whose other end is outside the tree, are recorded as
// external files (the restorer's own stdio takes their place), and the
// session and group that are not the tree's are recorded as they are:
// restore replaces them with the restorer's (see restore/tree.go).

// checkShellJob refuses, without ShellJob, a tree that belongs to the
// shell that started it. It runs once the tree is frozen, before anything
// is dumped, and names the first fd on a terminal it finds.
//
// A pty whose master a task of the tree holds is the tree's own, not the
// shell's (a terminal multiplexer's panes): its slaves are dumped as
// files, at any fd, and a session it is the controlling terminal of is
// restored with it (tty.go). So is a terminal given with --external
// (Options.ExternalTTY, exttty.go), at any fd, and the session it is the
// controlling terminal of.
func (t *tree) checkShellJob() error {
	root := t.tasks[0]
	if err := t.scanPtys(); err != nil {
		return err
	}
	if t.opts.ShellJob {
		for _, d := range t.tasks {
			if !d.zombie && d.stat.TtyNr != 0 && d.stat.Session == d.pid && t.ttys.treePty(d.stat.TtyNr) == nil && t.ttys.extCtty(d.stat.TtyNr) == nil {
				t.opts.Log.Warn().Int("pid", d.pid).Str("tty", ttyName(d.stat.TtyNr)).
					Msg("a session leader with a controlling terminal: restore gives it a new session without one")
			}
		}
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
			if isPtmx(st.Rdev) || isPts(st.Rdev) && (fd > 2 || t.ttys.treePty(st.Rdev) != nil) {
				continue // a pty of the tree's own (tty.go checks its master is)
			}
			key := TTYKey(st.Rdev, st.Dev)
			if t.ttys.ext[key] != nil {
				continue // given with --external (exttty.go)
			}
			target, _ := os.Readlink(link)
			return fmt.Errorf("dump %d: %w", d.pid, &FdError{Fd: fd, Type: "terminal " + target,
				Err: fmt.Errorf("%w, or, if its other end is a supervisor's (a container's console), with --external %s and restore with --inherit-fd fd[N]:%s", ErrShellJob, key, key)})
		}
	}
	for _, d := range t.tasks {
		if !d.zombie && d.stat.TtyNr != 0 && t.ttys.treePty(d.stat.TtyNr) == nil && t.ttys.extCtty(d.stat.TtyNr) == nil {
			return fmt.Errorf("dump %d: task %d has the controlling terminal %s, which %w", t.opts.Pid, d.pid, ttyName(d.stat.TtyNr), ErrShellJob)
		}
	}
	if root.stat.Session != root.pid {
		return fmt.Errorf("dump %d: the task is not a session leader: its session %d %w", root.pid, root.stat.Session, ErrShellJob)
	}
	return nil
}

// ttyName names a terminal by its device number (the tty_nr of stat).
func ttyName(dev uint64) string {
	maj, min := unix.Major(dev), unix.Minor(dev)
	if maj >= 136 && maj <= 143 {
		return fmt.Sprintf("/dev/pts/%d", (maj-136)*256+min)
	}
	return fmt.Sprintf("tty %d:%d", maj, min)
}
