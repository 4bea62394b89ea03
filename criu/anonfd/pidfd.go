package anonfd

import (
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// pidfdThread is PIDFD_THREAD (O_EXCL), as a pidfd's open flags show it.
const pidfdThread = unix.O_EXCL

// DumpPidfd records the pidfd with fdinfo fi and status flags flags as
// file id, as CRIU's pidfd_entry: nspid is the task's pid in its own pid
// namespace, which restore opens it by. tree are the host pids of the
// tree's live tasks; a pidfd in flight (SCM_RIGHTS: restore has no task
// to open it in before the queues are filled), of any other task, of a task that has
// exited, or of a thread (PIDFD_THREAD) is refused, naming it.
func DumpPidfd(inFlight bool, id, flags uint32, fi procfs.Fdinfo, tree []int) (*images.FileEntry, error) {
	p, err := fi.Pidfd()
	if err != nil {
		return nil, err
	}
	switch {
	case inFlight:
		return nil, fmt.Errorf("%w: a pidfd passed in flight (SCM_RIGHTS)", errdefs.ErrUnsupported)
	case flags&pidfdThread != 0:
		return nil, fmt.Errorf("%w: a pidfd of a thread (PIDFD_THREAD)", errdefs.ErrUnsupported)
	case p.Pid == -1:
		return nil, fmt.Errorf("%w: a pidfd of a task that has exited", errdefs.ErrUnsupported)
	case p.Pid <= 0 || !slices.Contains(tree, p.Pid):
		return nil, fmt.Errorf("%w: a pidfd of task %d, which is not a live task of the tree", errdefs.ErrUnsupported, p.Pid)
	}
	e := &images.PidfdEntry{
		Id: proto.Uint32(id), Ino: proto.Uint32(uint32(fi.Ino)), Flags: proto.Uint32(flags &^ unix.O_RDWR),
		Nspid: proto.Int32(int32(p.NSpid[len(p.NSpid)-1])), Fown: image.ZeroFown(),
	}
	return &images.FileEntry{Type: images.FdTypes_PIDFD.Enum(), Id: proto.Uint32(id), Pidfd: e}, nil
}

// OpenPidfd opens the pidfd e describes inside task t (host pid pid), by
// its pid in the task's pid namespace, as CRIU does, and returns a copy
// of it in the restorer (pidfd_getfd) with its status flags; the task's
// own is closed. t's tasks get it like any other master.
func OpenPidfd(t Task, pid int, e *images.PidfdEntry) (fd int, err error) {
	flags := e.GetFlags()
	switch {
	case e.GetNspid() <= 0:
		return -1, fmt.Errorf("%w: pidfd %d of a task that had exited", errdefs.ErrUnsupported, e.GetId())
	case flags&pidfdThread != 0:
		return -1, fmt.Errorf("%w: pidfd %d of a thread (PIDFD_THREAD)", errdefs.ErrUnsupported, e.GetId())
	}
	tmp, err := t.Sys("pidfd_open", unix.SYS_PIDFD_OPEN, uint64(e.GetNspid()), uint64(flags&unix.O_NONBLOCK))
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
