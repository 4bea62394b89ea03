package handoff

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
)

// Task is a task of the tree being restored, stopped under ptrace, in
// which the restorer injects syscalls.
type Task interface {
	// Pid is the task's host pid.
	Pid() int
	// Sys runs syscall nr with args in the task; name is for errors.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	// Scratch is an address in the task free for the length of a
	// syscall for its arguments (a page).
	Scratch() uint64
}

var atFdcwd = func() uint64 { v := int64(unix.AT_FDCWD); return uint64(v) }()

// Handoff is one restore's: the restorer's pidfd in each task, and the
// anchor of the host's /proc in the tree. Not safe for concurrent use.
type Handoff struct {
	pidns bool
	// anchor: the fd number of the host's /proc in every task forked
	// from the root after Anchor; 0 for none.
	anchor uint64
	// self: a pidfd of this process, which tasks reopen through the
	// anchor or the host's /proc; -1 until needed.
	self int
	// pidfds: the restorer's pidfd held in each task, by host pid.
	pidfds map[int]uint64
}

// New returns the handoff of a tree, with a pid namespace of its own
// (pidns) or not.
func New(pidns bool) *Handoff {
	return &Handoff{pidns: pidns, self: -1, pidfds: map[int]uint64{}}
}

// Anchor opens the host's /proc in the root task t, at the lowest free
// fd number from above (above every fd of the tree's images), before
// the root leaves criu's mount namespace; the tasks forked from it
// afterwards inherit it. Called once, for a tree that gets a mount or
// pid namespace of its own.
func (h *Handoff) Anchor(t Task, above uint64) error {
	if h.anchor != 0 {
		return errors.New("handoff: anchored twice")
	}
	p, err := cstring(t, "/proc")
	if err != nil {
		return err
	}
	fd, err := t.Sys("open host /proc", unix.SYS_OPENAT, atFdcwd, p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if fd >= above {
		h.anchor = fd
		return nil
	}
	to, err := t.Sys("fcntl(F_DUPFD_CLOEXEC)", unix.SYS_FCNTL, fd, unix.F_DUPFD_CLOEXEC, above)
	t.Sys("close", unix.SYS_CLOSE, fd)
	if err != nil {
		return err
	}
	h.anchor = to
	return nil
}

// Keeps reports fd as one of the handoff's in task pid: closing the
// fds a task must not hold leaves it.
func (h *Handoff) Keeps(pid int, fd uint64) bool {
	if h.anchor != 0 && fd == h.anchor {
		return true
	}
	p, ok := h.pidfds[pid]
	return ok && p == fd
}

// Open opens path, a path of the restorer's /proc or any path the task
// resolves itself, in task t with flags and returns the fd. Once the
// tree is anchored a /proc/... path is opened relative to the anchor,
// so that it names the host's procfs whatever the task's mount
// namespace or root.
func (h *Handoff) Open(t Task, path string, flags uint64) (uint64, error) {
	dir, rel := atFdcwd, path
	if h.anchor != 0 && strings.HasPrefix(path, "/proc/") {
		dir, rel = h.anchor, strings.TrimPrefix(path, "/proc/")
	}
	p, err := cstring(t, rel)
	if err != nil {
		return 0, err
	}
	return t.Sys("openat "+path, unix.SYS_OPENAT, dir, p, flags, 0)
}

// Pidfd opens a pidfd of the restorer in task t; the caller closes it.
// Inside a pid namespace of its own the task cannot name the
// restorer's pid: it reopens the restorer's own pidfd through /proc.
func (h *Handoff) Pidfd(t Task) (uint64, error) {
	if !h.pidns {
		return t.Sys("pidfd_open", unix.SYS_PIDFD_OPEN, uint64(os.Getpid()), 0)
	}
	if h.self < 0 {
		fd, err := unix.PidfdOpen(os.Getpid(), 0)
		if err != nil {
			return 0, os.NewSyscallError("pidfd_open", err)
		}
		h.self = fd
	}
	return h.Open(t, fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), h.self), unix.O_RDONLY|unix.O_CLOEXEC)
}

// PidfdAbove is the restorer's pidfd held in task t until Release,
// numbered from above (above every fd the task is to have).
func (h *Handoff) PidfdAbove(t Task, above uint64) (uint64, error) {
	if fd, ok := h.pidfds[t.Pid()]; ok {
		return fd, nil
	}
	p, err := h.Pidfd(t)
	if err != nil {
		return 0, err
	}
	fd, err := t.Sys("fcntl(F_DUPFD_CLOEXEC)", unix.SYS_FCNTL, p, unix.F_DUPFD_CLOEXEC, above)
	t.Sys("close", unix.SYS_CLOSE, p)
	if err != nil {
		return 0, err
	}
	h.pidfds[t.Pid()] = fd
	return fd, nil
}

// Install gives task t, at fd, the very description of the restorer's
// fd master (pidfd_getfd of it, through the pidfd PidfdAbove keeps
// from above), close-on-exec or not.
func (h *Handoff) Install(t Task, master int, fd, above uint64, cloexec bool) error {
	pfd, err := h.PidfdAbove(t, above)
	if err != nil {
		return err
	}
	tmp, err := t.Sys("pidfd_getfd", unix.SYS_PIDFD_GETFD, pfd, uint64(master), 0)
	if err != nil {
		return fmt.Errorf("restore fd %d: %w", fd, err)
	}
	if tmp != fd {
		flags := uint64(0)
		if cloexec {
			flags = unix.O_CLOEXEC
		}
		if _, err := t.Sys("dup3", unix.SYS_DUP3, tmp, fd, flags); err != nil {
			return err
		}
		_, err = t.Sys("close", unix.SYS_CLOSE, tmp)
		return err
	}
	fdFlags := uint64(0)
	if cloexec {
		fdFlags = unix.FD_CLOEXEC
	}
	_, err = t.Sys("fcntl(F_SETFD)", unix.SYS_FCNTL, fd, unix.F_SETFD, fdFlags)
	return err
}

// Get gives task t a copy of the very description of the restorer's fd
// master at the lowest free fd number, close-on-exec (pidfd_getfd
// through the pidfd PidfdAbove keeps from above), and returns that fd.
func (h *Handoff) Get(t Task, master int, above uint64) (uint64, error) {
	pfd, err := h.PidfdAbove(t, above)
	if err != nil {
		return 0, err
	}
	return t.Sys("pidfd_getfd", unix.SYS_PIDFD_GETFD, pfd, uint64(master), 0)
}

// Release closes the handoff's fds in task t, before it resumes: its
// pidfd of the restorer, and the anchor unless shared says another
// task closed it already in the fd table t shares (CLONE_FILES).
func (h *Handoff) Release(t Task, shared bool) error {
	if fd, ok := h.pidfds[t.Pid()]; ok {
		delete(h.pidfds, t.Pid())
		if _, err := t.Sys("close", unix.SYS_CLOSE, fd); err != nil {
			return err
		}
	}
	if h.anchor == 0 || shared {
		return nil
	}
	_, err := t.Sys("close host /proc", unix.SYS_CLOSE, h.anchor)
	return err
}

// Close closes what the handoff holds in the restorer.
func (h *Handoff) Close() {
	if h.self >= 0 {
		unix.Close(h.self)
		h.self = -1
	}
}

// cstring writes s NUL-terminated at t's scratch address.
func cstring(t Task, s string) (uint64, error) {
	if len(s)+1 > mem.PageSize {
		return 0, fmt.Errorf("path too long: %q", s)
	}
	a := t.Scratch()
	b := append([]byte(s), 0)
	return a, mem.WriteRemote(t.Pid(), []mem.Range{{Start: a, End: a + uint64(len(b))}}, b)
}
