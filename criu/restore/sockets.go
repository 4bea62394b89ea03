package restore

import "github.com/criugo/criu/criu/files"

// sockRestorer is what package sockets needs of the tree restorer
// (sockets.Restorer).
type sockRestorer struct{ t *treeRestorer }

func (r sockRestorer) Inherits(key string) bool {
	_, ok := r.t.opts.InheritFd[key]
	return ok
}

func (r sockRestorer) InheritedFd(key string) (int, bool, error) {
	in, ok := r.t.inheritedFd(key)
	if !ok {
		return -1, false, nil
	}
	fd, err := files.DupInherited(in)
	return fd, true, err
}

func (r sockRestorer) Keep(fd int) { r.t.masterFds = append(r.t.masterFds, fd) }
