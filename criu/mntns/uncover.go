package mntns

import "github.com/criugo/criu/criu/mntns/mpath"

// Uncover moves aside the mounts made over paths above the mounts of
// image ids mnts, until undo, for binding sockets on files they hide
// (mpath.Uncover), in the namespace Make built, which the calling
// thread is in.
func (l *Layout) Uncover(mnts []int32, paths []string) (undo func() error, err error) {
	if l == nil {
		return mpath.Uncover(nil, mnts, paths)
	}
	return mpath.Uncover(l.mounts, mnts, paths)
}
