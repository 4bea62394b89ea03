package anonfd

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// dumpEpoll records the epoll file at fd of task pid with its targets.
// Restore adds them back from inside one task holding the epoll, by fd
// number: the first, in the tree's order, that holds an fd at every
// target's number (Fills). Each target is looked for, with kcmp
// KCMP_EPOLL_TFD as CRIU 4.2 does, at the number it was added with, or,
// closed or replaced there since, at another fd of the task; it is
// then saved where it is (tfd, as CRIU) and by the number it was added
// with (added_fd). When pid lacks one, another task of the tree that
// holds the same epoll (tree: the host pids, in the tree's order) and
// all of its targets is the one whose fds are saved, if no task before
// it would take the epoll at restore; otherwise the dump is refused.
func dumpEpoll(pid int, id uint32, fd int, flags uint32, tree []int) (*images.FileEntry, error) {
	tfds, err := procfs.ReadEpollTfds(pid, fd)
	if err != nil {
		return nil, err
	}
	e := &images.EventpollFileEntry{Id: proto.Uint32(id), Flags: proto.Uint32(flags), Fown: image.ZeroFown()}
	if pid == os.Getpid() && len(tfds) > 0 {
		// criu's own copy of an epoll in flight (SCM_RIGHTS): its
		// targets are numbers of a task's, not of criu's fds.
		return dumpInFlight(e, fd, id, tfds, tree)
	}
	e.Tfd, err = epollView(pid, fd, pid, id, tfds)
	var miss *missingTarget
	if !errors.As(err, &miss) {
		if err != nil {
			return nil, err
		}
		return &images.FileEntry{Type: images.FdTypes_EVENTPOLL.Enum(), Id: proto.Uint32(id), Epfd: e}, nil
	}
	if pid == os.Getpid() {
		return dumpInFlight(e, fd, id, tfds, tree)
	}
	// Another holder of the epoll may hold the target (a child forked
	// before this task closed it).
	var before []int // the holders before the one taken, in the tree's order
	for _, h := range tree {
		hfd, err := holderFd(pid, fd, h)
		if err != nil {
			return nil, err
		}
		if hfd < 0 {
			continue
		}
		if h == pid {
			before = append(before, h)
			continue
		}
		got, err := epollView(pid, fd, h, id, tfds)
		if errors.As(err, new(*missingTarget)) {
			before = append(before, h)
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, b := range before {
			if fds, err := procfs.Fds(b); err != nil {
				return nil, err
			} else if Fills(got, fds) {
				return nil, fmt.Errorf("%w: epoll target fd %d was closed after it was added; task %d holds the epoll and its targets, but task %d, before it, holds other files at their numbers (restore would add those)", errdefs.ErrUnsupported, miss.fd, h, b)
			}
		}
		e.Tfd = got
		return &images.FileEntry{Type: images.FdTypes_EVENTPOLL.Enum(), Id: proto.Uint32(id), Epfd: e}, nil
	}
	return nil, fmt.Errorf("%w: epoll target fd %d was closed after it was added, and no task of the tree that holds the epoll holds its file", errdefs.ErrUnsupported, miss.fd)
}

// dumpInFlight records e, criu's own copy (at fd) of an epoll passed in
// flight, with its targets tfds as the first task of the tree (in its
// order) that holds every one of them sees them: restore fills the epoll
// from inside the first task that holds an fd at each target's number
// (FillEpolls), so no task before it may.
func dumpInFlight(e *images.EventpollFileEntry, fd int, id uint32, tfds []procfs.EpollTfd, tree []int) (*images.FileEntry, error) {
	self := os.Getpid()
	var before [][]int // the fds of the tasks before the one taken
	for _, h := range tree {
		fds, err := procfs.Fds(h)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) || len(fds) == 0 {
			continue // a zombie
		}
		if err != nil {
			return nil, err
		}
		got, err := epollView(self, fd, h, id, tfds)
		if errors.As(err, new(*missingTarget)) {
			before = append(before, fds)
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, b := range before {
			if Fills(got, b) {
				return nil, fmt.Errorf("%w: an epoll passed in flight (SCM_RIGHTS): task %d holds its targets, but a task before it holds other files at their numbers (restore would add those)", errdefs.ErrUnsupported, h)
			}
		}
		e.Tfd = got
		return &images.FileEntry{Type: images.FdTypes_EVENTPOLL.Enum(), Id: proto.Uint32(id), Epfd: e}, nil
	}
	return nil, fmt.Errorf("%w: an epoll passed in flight (SCM_RIGHTS) whose target added as fd %d no task of the tree holds", errdefs.ErrUnsupported, tfds[0].Fd)
}

// missingTarget: the epoll target added with fd is at no fd of the task.
type missingTarget struct{ fd int }

func (m *missingTarget) Error() string {
	return fmt.Sprintf("epoll target fd %d is at no fd of the task", m.fd)
}

// epollView is the targets tfds of the epoll at efd of task pid as task
// view (pid, or another holder of the epoll) holds them: each at the fd number it was added with if view's fd
// there is its file, else at another fd of view's holding it. A target
// view holds at no fd is a *missingTarget.
func epollView(pid, efd, view int, id uint32, tfds []procfs.EpollTfd) ([]*images.EventpollTfdEntry, error) {
	var fds []int // view's fds, read for the first moved target
	var out []*images.EventpollTfdEntry
	seen := map[int]uint32{} // targets added with each fd number so far
	for _, t := range tfds {
		slot := linux.KcmpEpollSlot{Efd: uint32(efd), Tfd: uint32(t.Fd), Toff: seen[t.Fd]}
		seen[t.Fd]++
		te := &images.EventpollTfdEntry{
			Id: proto.Uint32(id), Tfd: proto.Uint32(uint32(t.Fd)), Events: proto.Uint32(t.Events), Data: proto.Uint64(t.Data),
			Dev: proto.Uint32(t.Dev), Inode: proto.Uint64(t.Ino), Pos: proto.Uint64(uint64(t.Pos)),
		}
		out = append(out, te)
		if same, err := sameTarget(view, pid, t.Fd, slot); err != nil || same {
			if err != nil {
				return nil, err
			}
			continue
		}
		if fds == nil {
			var err error
			if fds, err = procfs.Fds(view); err != nil {
				return nil, err
			}
		}
		at := -1
		for _, f := range fds {
			if same, err := sameTarget(view, pid, f, slot); err != nil {
				return nil, err
			} else if same {
				at = f
				break
			}
		}
		if at < 0 {
			return nil, &missingTarget{t.Fd}
		}
		te.Tfd, te.AddedFd = proto.Uint32(uint32(at)), proto.Uint32(uint32(t.Fd))
	}
	return out, nil
}

// holderFd is an fd of task h that is the epoll file at efd of task pid,
// or -1 (h holds none, or is a zombie).
func holderFd(pid, efd, h int) (int, error) {
	if h == pid {
		return efd, nil
	}
	fds, err := procfs.Fds(h)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	for _, f := range fds {
		same, err := linux.Kcmp(pid, h, linux.KCMP_FILE, efd, f)
		if errors.Is(err, unix.EBADF) {
			continue
		}
		if err != nil {
			return -1, err
		}
		if same {
			return f, nil
		}
	}
	return -1, nil
}

// sameTarget reports whether fd of task view is the file of the epoll
// target slot (of task pid's epoll) names (false for a closed fd).
func sameTarget(view, pid, fd int, slot linux.KcmpEpollSlot) (bool, error) {
	same, err := linux.KcmpEpollTfd(view, pid, fd, slot)
	if errors.Is(err, unix.EBADF) {
		return false, nil
	}
	return same, err
}

// Fills reports whether a task whose fds are fds is the one restore
// fills epoll targets tfds from (AddTargets): it holds an fd at each
// target's number.
func Fills(tfds []*images.EventpollTfdEntry, fds []int) bool {
	have := map[int]bool{}
	for _, f := range fds {
		have[f] = true
	}
	for _, t := range tfds {
		if !have[int(t.GetTfd())] {
			return false
		}
	}
	return true
}

// EpollTask is a restored task that epoll files are filled from.
type EpollTask interface {
	Task
	// Get gives the task a copy of the restorer's fd master at a free
	// fd number, close-on-exec, and returns that number.
	Get(master int) (uint64, error)
}

// FillEpolls adds, from inside task t (whose fds are fdinfo; files by
// id), the targets of each epoll file that no task before it filled
// (done, by file id) and that t holds an fd at each target's number of
// (Fills: a target may be another holder's only), with AddTargets, and
// marks them done: each epoll t holds, and each held by no task (one in
// flight: masters, the restorer's fds by file id, hold it), which is
// given to t at a free number for the epoll_ctl calls and closed there
// after (dumpInFlight chose the first task that holds them all). Run on
// the tracer thread, for the tasks in the tree's order; all are the fd
// tables of the tree (by fdinfo image id).
func FillEpolls(t EpollTask, fdinfo []*images.FdinfoEntry, all map[uint32][]*images.FdinfoEntry, files map[uint32]*images.FileEntry, masters map[uint32]int, done map[uint32]bool) error {
	var fds []int
	for _, fi := range fdinfo {
		fds = append(fds, int(fi.GetFd()))
	}
	held := map[uint32]bool{}
	for _, fis := range all {
		for _, fi := range fis {
			held[fi.GetId()] = true
		}
	}
	for _, fi := range fdinfo {
		ep := files[fi.GetId()].GetEpfd()
		if fi.GetType() != images.FdTypes_EVENTPOLL || done[fi.GetId()] || !Fills(ep.GetTfd(), fds) {
			continue
		}
		done[fi.GetId()] = true
		if err := AddTargets(t, fi.GetFd(), ep); err != nil {
			return err
		}
	}
	for id, master := range masters {
		ep := files[id].GetEpfd()
		if files[id].GetType() != images.FdTypes_EVENTPOLL || done[id] || held[id] || len(ep.GetTfd()) == 0 ||
			!Fills(ep.GetTfd(), fds) {
			continue
		}
		done[id] = true
		fd, err := t.Get(master)
		if err != nil {
			return fmt.Errorf("epoll file %d in flight: %w", id, err)
		}
		err = AddTargets(t, uint32(fd), ep)
		if _, cerr := t.Sys("close", unix.SYS_CLOSE, fd); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("epoll file %d in flight: %w", id, err)
		}
	}
	return nil
}

// Unfilled names an epoll file (of files, made as the restorer's masters)
// that no task filled (done) once every task is restored: none holding
// it (or, one in flight, no task) held an fd at each of its targets'
// numbers.
func Unfilled(files map[uint32]*images.FileEntry, masters map[uint32]int, done map[uint32]bool) error {
	for id := range masters {
		if f := files[id]; f.GetType() == images.FdTypes_EVENTPOLL && !done[id] && len(f.GetEpfd().GetTfd()) > 0 {
			return fmt.Errorf("%w: epoll file %d: no task holding it (or, in flight, no task) holds an fd at each of its targets' numbers", errdefs.ErrBadImage, id)
		}
	}
	return nil
}
