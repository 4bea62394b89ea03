package restore

import (
	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// restoreEpolls adds the targets of the epoll files the task can fill
// (anonfd.FillEpolls).
func (r *restorer) restoreEpolls() error {
	return anonfd.FillEpolls(r, r.sn.fdinfo, r.sn.files, r.t.epollDone)
}

// epollsFilled checks, once every task's state is restored, that each
// epoll file of the tasks got its targets from one of them, and fills
// those in flight from a task (anonfd.FillInFlight).
func (t *treeRestorer) epollsFilled() error {
	var tasks []anonfd.InFlightTask
	var fdinfos [][]*images.FdinfoEntry
	for _, n := range t.nodes {
		if n.sn.zombie() || n.helper {
			continue
		}
		if err := anonfd.Unfilled(n.sn.fdinfo, t.epollDone); err != nil {
			return err
		}
		tasks, fdinfos = append(tasks, flightTask{n.r}), append(fdinfos, n.sn.fdinfo)
	}
	return t.tr.Do(func() error { return anonfd.FillInFlight(tasks, fdinfos, t.ti.files, t.masters, t.epollDone) })
}

// flightTask is a restored task as anonfd.FillInFlight sees it.
type flightTask struct{ *restorer }

func (x flightTask) Get(master int) (uint64, error) {
	return x.t.hand.Get(handTask{x.restorer}, master, x.above())
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
