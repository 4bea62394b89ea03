package dump

import "fmt"

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

// checkShellJob refuses, without ShellJob, a tree that belongs to the
// shell that started it. It runs once the tree is frozen, before anything
// is dumped: package tty checks the terminals (an fd on a terminal of
// the shell's, a controlling terminal that is not the tree's: it names
// the first it finds), then the root must lead its session.
func (t *tree) checkShellJob() error {
	root := t.tasks[0]
	if err := t.ttys.CheckShellJob(); err != nil {
		return err
	}
	if t.opts.ShellJob {
		return nil
	}
	if root.stat.Session != root.pid {
		return fmt.Errorf("dump %d: the task is not a session leader: its session %d %w", root.pid, root.stat.Session, ErrShellJob)
	}
	return nil
}
