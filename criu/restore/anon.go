package restore

import (
	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// restoreEpolls adds the targets of each epoll file the task holds that
// no task before it filled (anonfd.AddTargets).
func (r *restorer) restoreEpolls() error {
	for _, fi := range r.sn.fdinfo {
		if fi.GetType() != images.FdTypes_EVENTPOLL || r.t.epollDone[fi.GetId()] {
			continue
		}
		r.t.epollDone[fi.GetId()] = true
		if err := anonfd.AddTargets(r, fi.GetFd(), r.sn.files[fi.GetId()].GetEpfd()); err != nil {
			return err
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
