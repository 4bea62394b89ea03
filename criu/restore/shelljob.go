package restore

import (
	"github.com/criugo/criu/criu/shelljob"
	"github.com/criugo/criu/proto/images"
)

// shellJob applies the shell-job rules (package shelljob) to the
// pstree, before any task exists.
func (t *treeRestorer) shellJob() error {
	pst := make([]*images.PstreeEntry, len(t.nodes))
	for i, n := range t.nodes {
		pst[i] = n.sn.pst
	}
	var err error
	t.outSid, t.outPgid, err = shelljob.Rewrite(pst, t.opts.ShellJob, t.pidns(), t.log)
	return err
}

// outGroup reports whether pg is a process group of the restorer's that a
// task may join without a helper leader.
func (t *treeRestorer) outGroup(pg int) bool {
	return pg != 0 && (pg == t.outSid || pg == t.outPgid)
}

// takeTerminal gives the restorer's terminal to a shell job that took
// fds from it (shelljob.TakeTerminal).
func (t *treeRestorer) takeTerminal() {
	root := t.nodes[0]
	shelljob.TakeTerminal(t.log, root.sn.pst, root.sn.fdinfo, t.opts.ShellJob, t.pidns(), t.opts.Stdio)
}
