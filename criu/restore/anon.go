package restore

import (
	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/fsnotify"
	"github.com/criugo/criu/proto/images"
)

// openAnon creates, in the restorer, the eventfd, signalfd, timerfd or
// epoll file (package anonfd) or the inotify or fanotify file (package fsnotify) f
// describes. root is the root task's /proc/PID/root.
func openAnon(f *images.FileEntry, ghosts map[[2]uint64]string, root string) (fd int, err error) {
	if t := f.GetType(); t == images.FdTypes_INOTIFY || t == images.FdTypes_FANOTIFY {
		return fsnotify.OpenFile(f, ghosts, root)
	}
	return anonfd.Open(f)
}

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
