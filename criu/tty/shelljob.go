package tty

import (
	"fmt"
	"os"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
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
// restore replaces them with the restorer's (see restore/shelljob.go).

// CheckShellJob runs Scan, then refuses, without Options.ShellJob, a
// tree that holds a terminal of the shell that started it: it names the
// first fd on a terminal it finds, or else the first task with a
// controlling terminal, and last a root that does not lead its session.
// With ShellJob it warns of each session leader whose controlling
// terminal restore will not give back. It runs once the tree is frozen,
// before anything is dumped.
//
// A pty whose master a task of the tree holds is the tree's own, not the
// shell's (a terminal multiplexer's panes): its slaves are dumped as
// files, at any fd, and a session it is the controlling terminal of is
// restored with it. So is a terminal given with --external
// (Options.ExternalTTY, dump_ext.go), at any fd, and the session it is
// the controlling terminal of.
func (s *Set) CheckShellJob() error {
	if err := s.Scan(); err != nil {
		return err
	}
	tasks, _ := s.tasks()
	if s.opts.ShellJob {
		for _, d := range tasks {
			if !d.Zombie && d.Stat.TtyNr != 0 && d.Stat.Session == d.Pid && s.treePty(d.Stat.TtyNr) == nil && s.extCtty(d.Stat.TtyNr) == nil {
				s.opts.Log.Warn().Int("pid", d.Pid).Str("tty", ttyName(d.Stat.TtyNr)).
					Msg("a session leader with a controlling terminal: restore gives it a new session without one")
			}
		}
		return nil
	}
	err := terminalFds(tasks, IsTTY, func(d Task, fd int, link string, st *unix.Stat_t) error {
		if isPtmx(st.Rdev) || isPts(st.Rdev) && (fd > 2 || s.treePty(st.Rdev) != nil) {
			return nil // a pty of the tree's own (Write checks its master is)
		}
		if IsSimple(st.Rdev) {
			return nil // the console or a VT (simple.go checks it)
		}
		if isCttyAlias(st.Rdev) {
			if _, _, err := s.aliasKept(d, fd); err == nil {
				return nil // to the tree's own terminal (alias.go)
			}
		}
		key := TTYKey(st.Rdev, st.Dev)
		if s.ext[key] != nil {
			return nil // given with --external (dump_ext.go)
		}
		target, _ := os.Readlink(link)
		return fmt.Errorf("dump %d: %w", d.Pid, &errdefs.FdError{Fd: fd, Type: "terminal " + target,
			Err: fmt.Errorf("%w, or, if its other end is a supervisor's (a container's console), with --external %s and restore with --inherit-fd fd[N]:%s", errdefs.ErrShellJob, key, key)})
	})
	if err != nil {
		return err
	}
	for _, d := range tasks {
		if !d.Zombie && d.Stat.TtyNr != 0 && s.treePty(d.Stat.TtyNr) == nil && s.extCtty(d.Stat.TtyNr) == nil &&
			!(IsSimple(d.Stat.TtyNr) && s.simpleHeld(d.Stat.TtyNr)) {
			return fmt.Errorf("dump %d: task %d has the controlling terminal %s, which %w", s.opts.Pid, d.Pid, ttyName(d.Stat.TtyNr), errdefs.ErrShellJob)
		}
	}
	if root := tasks[0]; root.Stat.Session != root.Pid {
		return fmt.Errorf("dump %d: the task is not a session leader: its session %d %w", root.Pid, root.Stat.Session, errdefs.ErrShellJob)
	}
	return nil
}

// TakeForeground makes the process group pg the foreground group of the
// terminal fd, the restorer's controlling terminal, when the restorer's
// own group has it now (a shell job joining the restorer's session).
// Failures are logged: the job runs anyway, in the background. Nothing
// is done when fd is not the restorer's controlling terminal.
func TakeForeground(log zerolog.Logger, fd, pg int) {
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil {
		return // not a terminal, or not the restorer's controlling one
	}
	if fg == pg {
		return
	}
	if fg != unix.Getpgrp() {
		log.Warn().Int("foreground", fg).Msg("the restorer is not in the foreground of its terminal: the job stays in the background")
		return
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, pg); err != nil {
		log.Warn().Err(err).Int("pgid", pg).Msg("make the job the terminal's foreground group")
		return
	}
	log.Debug().Int("pgid", pg).Msg("the job is the terminal's foreground group")
}
