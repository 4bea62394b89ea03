package restore

import (
	"github.com/criugo/criu/criu/locks"
	"github.com/criugo/criu/proto/images"
)

// lockFd tells locks.Check the type of fd of the live task pid.
func (t *treeRestorer) lockFd(pid, fd int32) (typ images.FdTypes, task, ok bool) {
	n, found := t.byPid[int(pid)]
	if !found || n.sn.zombie() || n.helper {
		return 0, false, false
	}
	for _, fi := range n.sn.fdinfo {
		if int32(fi.GetFd()) == fd {
			return fi.GetType(), true, true
		}
	}
	return 0, true, false
}

// restoreLocks takes every lock back from inside the task that held it
// (locks.Take). Runs once every task's files are open, while the scratch
// pages are mapped.
func (t *treeRestorer) restoreLocks() error {
	for _, l := range t.ti.locks {
		if err := locks.Take(t.byPid[int(l.GetPid())].r, l); err != nil {
			return err
		}
	}
	return nil
}
