// Package shelljob holds the restore's shell-job rules (CRIU's
// --shell-job): the session and process group of a restored tree whose
// root was not a session leader, and the terminal's foreground.
//
//   - A root task that was a session leader is restored as one, with or
//     without the option: it calls setsid and has no controlling
//     terminal (the terminal it had is not in the images).
//   - A root that was not (its session was the shell's) is refused
//     without the option. With it, the shell's session id is replaced,
//     in every task's sid and pgid, by the restorer's session: the tree
//     joins the restorer's session, and so its controlling terminal.
//   - Such a root that led its process group (the shell made the job a
//     group of its own) leads it again, in the restorer's session; one
//     that did not (it was in the shell's group) has that group
//     replaced, in every task's pgid, by the restorer's group.
//   - Then, if the root has fds taken from the restorer and the
//     restorer's stdin is its controlling terminal, in the foreground,
//     the root's group becomes the terminal's foreground group, so that
//     the job reads from it as it did from its shell (TakeTerminal).
//
// The replacement ids must not be pids, sessions or groups of the
// images.
package shelljob

import (
	"fmt"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/tty"
	"github.com/criugo/criu/proto/images"
)

// Rewrite applies the rules to the pstree entries pst (the root
// first), before any task exists, rewriting their sids and pgids in
// place. allowed is the option; pidns says the tree has a pid
// namespace of its own, whose sessions and groups outside it are 0
// inside, whichever they are (nothing to rewrite). It returns the
// restorer's session and group that the tree joined (0: none), which
// tasks may join without a helper leader.
func Rewrite(pst []*images.PstreeEntry, allowed, pidns bool, log zerolog.Logger) (outSid, outPgid int, err error) {
	root := pst[0]
	rootPid := int(root.GetPid())
	oldSid := int(root.GetSid())
	if oldSid == rootPid {
		return 0, 0, nil
	}
	if !allowed {
		return 0, 0, fmt.Errorf("%w: the root task %d is not a session leader (its session %d was its shell's): restore with --shell-job", errdefs.ErrUnsupported, rootPid, oldSid)
	}
	if pidns {
		return 0, 0, nil
	}
	curSid, err := unix.Getsid(0)
	if err != nil {
		return 0, 0, fmt.Errorf("getsid: %w", err)
	}
	curGid := unix.Getpgrp()
	if oldSid != curSid {
		if err := freeID(pst, curSid, "session"); err != nil {
			return 0, 0, err
		}
		for _, e := range pst {
			if int(e.GetSid()) == oldSid {
				e.Sid = proto.Uint32(uint32(curSid))
			}
			if int(e.GetPgid()) == oldSid {
				e.Pgid = proto.Uint32(uint32(curSid))
			}
		}
	}
	outSid = curSid
	// Read after the session's replacement: a root that was in the
	// shell's own group (the session leader's) is now in curSid's.
	oldGid := int(root.GetPgid())
	if oldGid != rootPid {
		if oldGid != curGid {
			if curGid != curSid {
				if err := freeID(pst, curGid, "process group"); err != nil {
					return 0, 0, err
				}
			}
			for _, e := range pst {
				if int(e.GetPgid()) == oldGid {
					e.Pgid = proto.Uint32(uint32(curGid))
				}
			}
		}
		outPgid = curGid
	}
	log.Info().Int("sid", oldSid).Int("new_sid", curSid).Int("pgid", oldGid).Int("new_pgid", int(root.GetPgid())).Msg("shell job joins the restorer's session")
	return outSid, outPgid, nil
}

// freeID checks that id, the restorer's session or group, is no pid,
// session or group of the images.
func freeID(pst []*images.PstreeEntry, id int, what string) error {
	for _, e := range pst {
		if int(e.GetPid()) == id {
			return fmt.Errorf("%w: the restorer's %s %d is the pid of a task in the images", errdefs.ErrUnsupported, what, id)
		}
	}
	for _, e := range pst {
		if int(e.GetSid()) == id || int(e.GetPgid()) == id {
			return fmt.Errorf("%w: the restorer's %s %d is a session or group of task %d in the images", errdefs.ErrUnsupported, what, id, e.GetPid())
		}
	}
	return nil
}

// TakeTerminal makes the root's group the foreground group of the
// restorer's terminal (stdin, or stdio[0] when criu was given the
// root's stdio), for a shell job that joined the restorer's session
// (allowed, its root pst not a session leader, no pid namespace of its
// own) and took fds from it (an EXT fd in fdinfo: tty.TakeForeground).
// Failures are logged: the job runs anyway, in the background.
func TakeTerminal(log zerolog.Logger, root *images.PstreeEntry, fdinfo []*images.FdinfoEntry, allowed, pidns bool, stdio []uintptr) {
	if !allowed || root.GetSid() == root.GetPid() || pidns {
		return
	}
	ext := false
	for _, fi := range fdinfo {
		ext = ext || fi.GetType() == images.FdTypes_EXT
	}
	if !ext {
		return
	}
	fd := 0
	if len(stdio) == 3 {
		fd = int(stdio[0])
	}
	tty.TakeForeground(log, fd, int(root.GetPgid()))
}
