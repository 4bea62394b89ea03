package restore

import (
	"fmt"

	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// restoreEpolls adds the targets of each epoll file the task holds that
// no task before it filled, if it holds an fd at each target's number
// (anonfd.Fills: the target may be another holder's only), with
// anonfd.AddTargets.
func (r *restorer) restoreEpolls() error {
	var fds []int
	for _, fi := range r.sn.fdinfo {
		fds = append(fds, int(fi.GetFd()))
	}
	for _, fi := range r.sn.fdinfo {
		if fi.GetType() != images.FdTypes_EVENTPOLL || r.t.epollDone[fi.GetId()] ||
			!anonfd.Fills(r.sn.files[fi.GetId()].GetEpfd().GetTfd(), fds) {
			continue
		}
		r.t.epollDone[fi.GetId()] = true
		if err := anonfd.AddTargets(r, fi.GetFd(), r.sn.files[fi.GetId()].GetEpfd()); err != nil {
			return err
		}
	}
	return nil
}

// epollsFilled checks, once every task's state is restored, that each
// epoll file of the tasks got its targets from one of them.
func (t *treeRestorer) epollsFilled() error {
	for _, n := range t.nodes {
		for _, fi := range n.sn.fdinfo {
			if fi.GetType() == images.FdTypes_EVENTPOLL && !t.epollDone[fi.GetId()] && !n.sn.zombie() && !n.helper {
				return fmt.Errorf("%w: epoll file %d: no task holding it holds an fd at each of its targets' numbers", ErrBadImage, fi.GetId())
			}
		}
	}
	return nil
}

// openDeadPidfds opens, as masters, the pidfds of tasks that had exited
// of the files tasks hold, refs (anonfd.OpenDeadPidfds).
func (t *treeRestorer) openDeadPidfds(refs map[uint32]int) error {
	pidns := ""
	if t.pidns() {
		pidns = procfs.Path(t.nodes[0].r.pid, "ns/pid")
	}
	fds, err := anonfd.OpenDeadPidfds(t.ti.files, refs, pidns)
	for id, fd := range fds {
		t.masters[id], t.masterFds = fd, append(t.masterFds, fd)
	}
	return err
}
