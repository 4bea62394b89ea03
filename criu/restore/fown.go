package restore

import (
	"github.com/criugo/criu/criu/files"
)

// restoreFowns gives each file description of the task its owner and
// signal (files.RestoreFowns), unless its fd table is its parent's,
// done by the parent.
func (r *restorer) restoreFowns() error {
	if r.sn.sharedFds {
		return nil // the parent's table, done by the parent
	}
	return files.RestoreFowns(fownTask{r}, r.sn.fdinfo, r.sn.files)
}

// fownTask is r's task as files.Task: syscalls injected into its leader
// and its scratch area.
type fownTask struct{ r *restorer }

func (t fownTask) Syscall(name string, nr uintptr, args ...uint64) (uint64, error) {
	return t.r.sys(name, nr, args...)
}

func (t fownTask) WriteScratch(off uint64, b []byte) (uint64, error) {
	return t.r.scr + off, t.r.writeScratch(off, b)
}
