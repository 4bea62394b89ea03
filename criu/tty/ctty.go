package tty

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
)

// Remote is a task of the tree being created, stopped under ptrace, in
// which the restorer runs syscalls (ptrace injection) to give it its
// controlling terminal.
type Remote interface {
	// Pid is the task's host pid.
	Pid() int
	// Syscall runs the syscall nr with args in the task and returns
	// its result; name is for errors.
	Syscall(name string, nr uintptr, args ...uint64) (uint64, error)
	// Scratch is an address in the task for syscall arguments, free
	// for the length of a syscall (before its memory is restored, in
	// its stub's stack).
	Scratch() uint64
}

var atFdcwd = func() uint64 { v := int64(unix.AT_FDCWD); return uint64(v) }()

// withSlave runs f with fd, the session leader r's own copy of its
// terminal's slave (pidfd_getfd of the restorer's), closed again before
// it returns: the tasks r forks next must not inherit it. It runs before
// r's memory is restored, so its strings go on the stub's stack.
func (t *Terminals) withSlave(r Remote, c *ctty, f func(fd uint64) error) error {
	pfd, err := t.tree.RestorerPidfd(r)
	if err != nil {
		return err
	}
	fd, err := r.Syscall("pidfd_getfd", unix.SYS_PIDFD_GETFD, pfd, uint64(c.fd), 0)
	if _, cerr := r.Syscall("close", unix.SYS_CLOSE, pfd); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	err = f(fd)
	if _, cerr := r.Syscall("close", unix.SYS_CLOSE, fd); err == nil {
		err = cerr
	}
	return err
}

// SetCtty gives the session leader sid (r), just after its setsid and
// before it forks the tasks of its session, its controlling terminal
// back (TIOCSCTTY without stealing it from another session, but an
// external terminal's, c.steal). It does nothing when the session had
// none.
func (t *Terminals) SetCtty(sid int, r Remote) error {
	c := t.cttys[sid]
	if c == nil {
		return nil
	}
	steal := uint64(0)
	if c.steal {
		steal = 1
	}
	err := t.withSlave(r, c, func(fd uint64) error {
		_, err := r.Syscall("ioctl(TIOCSCTTY)", unix.SYS_IOCTL, fd, unix.TIOCSCTTY, steal)
		return err
	})
	if err != nil {
		return fmt.Errorf("task %d: controlling terminal %s: %w", sid, c.name, err)
	}
	t.log.Debug().Int("sid", sid).Str("tty", c.name).Msg("controlling terminal")
	return t.openAliases(sid, r)
}

// SetForeground makes each restored controlling terminal's foreground
// group the dumped one, once every group exists. Right after TIOCSCTTY
// it is the leader's own, so the leader may change it without SIGTTOU.
func (t *Terminals) SetForeground() error {
	if err := t.checkAliases(); err != nil {
		return err
	}
	for sid, c := range t.cttys {
		if c.pgrp == 0 || c.pgrp == sid {
			continue
		}
		r := t.tree.Task(sid)
		err := t.withSlave(r, c, func(fd uint64) error {
			a := r.Scratch()
			b := make([]byte, 8)
			binary.LittleEndian.PutUint32(b, uint32(c.pgrp))
			if err := mem.WriteRemote(r.Pid(), []mem.Range{{Start: a, End: a + 8}}, b); err != nil {
				return err
			}
			_, err := r.Syscall("ioctl(TIOCSPGRP)", unix.SYS_IOCTL, fd, unix.TIOCSPGRP, a)
			return err
		})
		if err != nil {
			return fmt.Errorf("task %d: foreground group %d of %s: %w", sid, c.pgrp, c.name, err)
		}
	}
	return nil
}
