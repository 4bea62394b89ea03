package anonfd

import (
	"fmt"
	"os"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// pidfdThread is PIDFD_THREAD (O_EXCL), as a pidfd's open flags show it.
const pidfdThread = unix.O_EXCL

// DumpPidfd records the pidfd open at fd of task pid, with fdinfo fi
// and status flags flags, as file id, as CRIU's pidfd_entry: nspid is
// the task's pid in its own pid namespace, which restore opens it by, or
// -1 for a task that has exited and been reaped, whose wait status
// (PIDFD_GET_INFO) is saved in attr where the kernel tells it (restore
// makes a stand-in die with it, OpenDeadPidfds). tree are the host pids
// of the tree's tasks, zombies too (restore makes them before the files
// are opened); a pidfd in flight (SCM_RIGHTS: restore has no task to
// open it in before the queues are filled), of any other task, of a
// thread other than a task's leader (PIDFD_THREAD: of a leader it is
// kept) or of a reaped task that dumped core is refused, naming it.
func DumpPidfd(pid, fd int, inFlight bool, id, flags uint32, fi procfs.Fdinfo, tree []int) (*images.FileEntry, error) {
	p, err := fi.Pidfd()
	if err != nil {
		return nil, err
	}
	switch {
	case inFlight:
		return nil, fmt.Errorf("%w: a pidfd passed in flight (SCM_RIGHTS)", errdefs.ErrUnsupported)
	case p.Pid != -1 && flags&pidfdThread != 0 && !slices.Contains(tree, p.Pid):
		return nil, fmt.Errorf("%w: a pidfd of thread %d (PIDFD_THREAD), which is not the leader of a task of the tree (threads are made after the files)", errdefs.ErrUnsupported, p.Pid)
	case p.Pid != -1 && (p.Pid <= 0 || !slices.Contains(tree, p.Pid)):
		return nil, fmt.Errorf("%w: a pidfd of task %d, which is not a task of the tree", errdefs.ErrUnsupported, p.Pid)
	}
	e := &images.PidfdEntry{
		Id: proto.Uint32(id), Ino: proto.Uint32(uint32(fi.Ino)), Flags: proto.Uint32(flags &^ unix.O_RDWR),
		Nspid: proto.Int32(-1), Fown: image.ZeroFown(),
	}
	if p.Pid != -1 {
		e.Nspid = proto.Int32(int32(p.NSpid[len(p.NSpid)-1]))
	} else if status, ok, err := exitStatus(pid, fd); err != nil {
		return nil, fmt.Errorf("pidfd of a task that has exited: %w", err)
	} else if ok {
		if ws := syscall.WaitStatus(status); !ws.Exited() && !(ws.Signaled() && !ws.CoreDump()) {
			return nil, fmt.Errorf("%w: a pidfd of a task that has exited with wait status %#x (it dumped core)", errdefs.ErrUnsupported, status)
		}
		e.Attr = &images.PidfsAttrEntry{ExitCode: proto.Int32(int32(status))}
	}
	return &images.FileEntry{Type: images.FdTypes_PIDFD.Enum(), Id: proto.Uint32(id), Pidfd: e}, nil
}

// exitStatus is the wait status of the reaped task of the pidfd open at
// fd of task pid, through a copy of it (pidfd_getfd); ok is false where
// the kernel has none to tell.
func exitStatus(pid, fd int) (status int, ok bool, err error) {
	c, err := linux.CopyFd(pid, fd)
	if err != nil {
		return 0, false, err
	}
	defer unix.Close(c)
	return linux.PidfdExitStatus(c)
}

// OpenDeadPidfds opens, in the restorer, the pidfds of tasks that had
// exited (nspid -1) among files of ids, as CRIU 4.2 does: one stand-in per pid
// (pidfds of one pid have one inode, ino; an ino of 0 is a pid of its
// own), each pidfd opened while it lives, with its status flags; then
// each stand-in dies with the wait status saved (attr; SIGKILL without
// one, as CRIU 4.2) and is reaped. The stand-ins are gone when it
// returns. pidns is the pid namespace of the tree (a /proc/PID/ns/pid
// path), the stand-ins', or "" for criu's own. It returns the pidfds by
// file id.
func OpenDeadPidfds(files map[uint32]*images.FileEntry, ids map[uint32]int, pidns string) (fds map[uint32]int, err error) {
	fds = map[uint32]int{}
	defer func() {
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			fds = nil
		}
	}()
	var groups [][]*images.PidfdEntry
	byIno := map[uint32]int{}
	for id := range ids {
		e := files[id].GetPidfd()
		if e == nil || e.GetNspid() != -1 {
			continue
		}
		if i, ok := byIno[e.GetIno()]; ok && e.GetIno() != 0 {
			groups[i] = append(groups[i], e)
			continue
		}
		byIno[e.GetIno()] = len(groups)
		groups = append(groups, []*images.PidfdEntry{e})
	}
	for _, g := range groups {
		status := int(unix.SIGKILL)
		for _, e := range g {
			if a := e.GetAttr(); a != nil && a.ExitCode != nil {
				status = int(a.GetExitCode())
			}
		}
		pid, die, err := standIn(status, pidns)
		if err != nil {
			return fds, fmt.Errorf("pidfd %d of a task that had exited: %w", g[0].GetId(), err)
		}
		for _, e := range g {
			fd, err := unix.PidfdOpen(pid, int(e.GetFlags()&pidfdThread))
			if err == nil {
				_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(e.GetFlags()&^unix.O_ACCMODE))
				fds[e.GetId()] = fd
			}
			if err != nil {
				die()
				return fds, fmt.Errorf("pidfd %d of a task that had exited: %w", e.GetId(), os.NewSyscallError("pidfd_open", err))
			}
		}
		if err := die(); err != nil {
			return fds, err
		}
	}
	return fds, nil
}

// OpenPidfd opens the pidfd e describes inside task t (host pid pid), by
// its pid in the task's pid namespace, as CRIU does (with PIDFD_THREAD
// for one of a leader thread), and returns a copy
// of it in the restorer (pidfd_getfd) with its status flags; the task's
// own is closed. t's tasks get it like any other master.
func OpenPidfd(t Task, pid int, e *images.PidfdEntry) (fd int, err error) {
	flags := e.GetFlags()
	switch {
	case e.GetNspid() <= 0:
		return -1, fmt.Errorf("%w: pidfd %d of a task that had exited is opened by OpenDeadPidfds", errdefs.ErrBadImage, e.GetId())
	}
	tmp, err := t.Sys("pidfd_open", unix.SYS_PIDFD_OPEN, uint64(e.GetNspid()), uint64(flags&(unix.O_NONBLOCK|pidfdThread)))
	if err != nil {
		return -1, fmt.Errorf("pidfd %d of task %d: %w", e.GetId(), e.GetNspid(), err)
	}
	defer t.Sys("close", unix.SYS_CLOSE, tmp)
	p, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(p)
	if fd, err = unix.PidfdGetfd(p, int(tmp), 0); err != nil {
		return -1, os.NewSyscallError("pidfd_getfd", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(flags&^unix.O_ACCMODE)); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return fd, nil
}
