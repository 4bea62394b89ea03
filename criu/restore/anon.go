package restore

import (
	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/procfs"
)

// restoreEpolls adds the targets of the epoll files the task can fill
// (anonfd.FillEpolls).
func (r *restorer) restoreEpolls() error {
	return anonfd.FillEpolls(r, r.sn.fdinfo, r.sn.files, r.t.epollDone)
}

// epollsFilled checks, once every task's state is restored, that each
// epoll file of the tasks got its targets from one of them.
func (t *treeRestorer) epollsFilled() error {
	for _, n := range t.nodes {
		if err := anonfd.Unfilled(n.sn.fdinfo, t.epollDone); err != nil && !n.sn.zombie() && !n.helper {
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
