package anonfd

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// Dump records the eventfd, signalfd, timerfd, epoll file or pidfd open
// at fd of task pid as file id, from its fdinfo fi. kind is the anon_inode
// name from the fd link ("anon_inode:[eventfd]", ...); another kind is
// ErrUnsupported. tree are the host pids of the tree's tasks, zombies
// too, one of which a pidfd of a task not reaped must be of (DumpPidfd);
// pid is criu's own for a file
// passed in flight (SCM_RIGHTS).
func Dump(kind string, pid, fd int, id, flags uint32, fi procfs.Fdinfo, tree []int) (*images.FileEntry, error) {
	switch kind {
	case "anon_inode:[pidfd]":
		return DumpPidfd(pid, fd, pid == os.Getpid(), id, flags, fi, tree)
	case "anon_inode:[eventfd]":
		ev, err := fi.Eventfd()
		if err != nil {
			return nil, err
		}
		if ev.Semaphore {
			// CRIU's eventfd_file_entry has no field for it, and
			// CRIU 4.2 restores an eventfd without it: refused, not
			// carried where only this criu would see it.
			return nil, fmt.Errorf("%w: eventfd in semaphore mode (EFD_SEMAPHORE, counter %d): CRIU's image has no field for the mode", errdefs.ErrUnsupported, ev.Count)
		}
		return &images.FileEntry{Type: images.FdTypes_EVENTFD.Enum(), Id: proto.Uint32(id), Efd: &images.EventfdFileEntry{
			Id: proto.Uint32(id), Flags: proto.Uint32(flags), Fown: image.ZeroFown(), Counter: proto.Uint64(ev.Count),
		}}, nil
	case "anon_inode:[signalfd]":
		m, err := fi.Sigmask()
		if err != nil {
			return nil, err
		}
		return &images.FileEntry{Type: images.FdTypes_SIGNALFD.Enum(), Id: proto.Uint32(id), Sgfd: &images.SignalfdEntry{
			Id: proto.Uint32(id), Flags: proto.Uint32(flags), Fown: image.ZeroFown(), Sigmask: proto.Uint64(m),
		}}, nil
	case "anon_inode:[timerfd]":
		t, err := fi.Timerfd()
		if err != nil {
			return nil, err
		}
		return &images.FileEntry{Type: images.FdTypes_TIMERFD.Enum(), Id: proto.Uint32(id), Tfd: &images.TimerfdEntry{
			Id: proto.Uint32(id), Flags: proto.Uint32(flags), Fown: image.ZeroFown(), Clockid: proto.Uint32(uint32(t.Clockid)),
			Ticks: proto.Uint64(t.Ticks), SettimeFlags: proto.Uint32(t.SettimeFlags),
			Vsec: proto.Uint64(t.Value.Sec), Vnsec: proto.Uint64(t.Value.Nsec),
			Isec: proto.Uint64(t.Interv.Sec), Insec: proto.Uint64(t.Interv.Nsec),
		}}, nil
	case "anon_inode:[eventpoll]":
		return dumpEpoll(pid, id, fd, flags, tree)
	case "anon_inode:[userfaultfd]":
		// Its features, registered ranges and waiting faults: CRIU
		// 4.2 refuses it too (criu's own is never in the tree).
		return nil, fmt.Errorf("%w: a userfaultfd of the task's own (its features and registered ranges are not checkpointed)", errdefs.ErrUnsupported)
	}
	return nil, errdefs.ErrUnsupported
}
