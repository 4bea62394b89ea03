package restore

import (
	"fmt"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/tty"
	"github.com/criugo/criu/proto/images"
)

// Session and process group of a shell job (Options.ShellJob), with
// CRIU's rules:
//
//   - A root task that was a session leader is restored as one, with or
//     without ShellJob: it calls setsid and has no controlling terminal
//     (the terminal it had is not in the images).
//   - A root that was not (its session was the shell's) is refused
//     without ShellJob. With it, the shell's session id is replaced, in
//     every task's sid and pgid, by the restorer's session: the tree
//     joins the restorer's session, and so its controlling terminal.
//   - Such a root that led its process group (the shell made the job a
//     group of its own) leads it again, in the restorer's session; one
//     that did not (it was in the shell's group) has that group replaced,
//     in every task's pgid, by the restorer's group.
//   - Then, if the root has fds taken from the restorer and the
//     restorer's stdin is its controlling terminal, in the foreground,
//     the root's group becomes the terminal's foreground group, so that
//     the job reads from it as it did from its shell.
//
// The replacement ids must not be pids, sessions or groups of the images.

// shellJob applies the rules above to the pstree, before any task exists.
func (t *treeRestorer) shellJob() error {
	root := t.nodes[0]
	oldSid := root.sid()
	if oldSid == root.pid {
		return nil
	}
	if !t.opts.ShellJob {
		return fmt.Errorf("%w: the root task %d is not a session leader (its session %d was its shell's): restore with --shell-job", ErrUnsupported, root.pid, oldSid)
	}
	if t.pidns() {
		// Sessions and groups outside the tree's pid namespace are 0
		// inside it, whichever they are: the root, created in the
		// restorer's session and group, has them as they were.
		return nil
	}
	curSid, err := unix.Getsid(0)
	if err != nil {
		return fmt.Errorf("getsid: %w", err)
	}
	curGid := unix.Getpgrp()
	if oldSid != curSid {
		if err := t.freeID(curSid, "session"); err != nil {
			return err
		}
		for _, n := range t.nodes {
			if n.sid() == oldSid {
				n.sn.pst.Sid = proto.Uint32(uint32(curSid))
			}
			if n.pgid() == oldSid {
				n.sn.pst.Pgid = proto.Uint32(uint32(curSid))
			}
		}
	}
	t.outSid = curSid
	// Read after the session's replacement: a root that was in the
	// shell's own group (the session leader's) is now in curSid's.
	oldGid := root.pgid()
	if oldGid != root.pid {
		if oldGid != curGid {
			if curGid != curSid {
				if err := t.freeID(curGid, "process group"); err != nil {
					return err
				}
			}
			for _, n := range t.nodes {
				if n.pgid() == oldGid {
					n.sn.pst.Pgid = proto.Uint32(uint32(curGid))
				}
			}
		}
		t.outPgid = curGid
	}
	t.log.Info().Int("sid", oldSid).Int("new_sid", curSid).Int("pgid", oldGid).Int("new_pgid", root.pgid()).Msg("shell job joins the restorer's session")
	return nil
}

// freeID checks that id, the restorer's session or group, is no pid,
// session or group of the images.
func (t *treeRestorer) freeID(id int, what string) error {
	if t.byPid[id] != nil {
		return fmt.Errorf("%w: the restorer's %s %d is the pid of a task in the images", ErrUnsupported, what, id)
	}
	for _, n := range t.nodes {
		if n.sid() == id || n.pgid() == id {
			return fmt.Errorf("%w: the restorer's %s %d is a session or group of task %d in the images", ErrUnsupported, what, id, n.pid)
		}
	}
	return nil
}

// outGroup reports whether pg is a process group of the restorer's that a
// task may join without a helper leader.
func (t *treeRestorer) outGroup(pg int) bool {
	return pg != 0 && (pg == t.outSid || pg == t.outPgid)
}

// takeTerminal makes the root's group the foreground group of the
// restorer's terminal, for a shell job that joined the restorer's session
// and took fds from it (tty.TakeForeground). Failures are logged: the job
// runs anyway, in the background.
func (t *treeRestorer) takeTerminal() {
	root := t.nodes[0]
	if !t.opts.ShellJob || root.sid() == root.pid || t.pidns() {
		return
	}
	ext := false
	for _, fi := range root.sn.fdinfo {
		ext = ext || fi.GetType() == images.FdTypes_EXT
	}
	if !ext {
		return
	}
	fd := 0
	if len(t.opts.Stdio) == 3 {
		fd = int(t.opts.Stdio[0])
	}
	tty.TakeForeground(t.log, fd, root.pgid())
}
