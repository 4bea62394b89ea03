package restore

import (
	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/procfs"
)

// restoreEpolls adds the targets of the epoll files the task can fill,
// its own and those in flight (anonfd.FillEpolls).
func (r *restorer) restoreEpolls() error {
	return anonfd.FillEpolls(epollTask{r}, r.sn.fdinfo, r.t.ti.fdinfo, r.sn.files, r.t.masters, r.t.epollDone)
}

// epollTask is a restored task as anonfd.FillEpolls sees it.
type epollTask struct{ *restorer }

func (x epollTask) Get(master int) (uint64, error) {
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
