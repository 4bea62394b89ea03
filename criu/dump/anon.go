package dump

import (
	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/fsnotify"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// addAnon records an eventfd, signalfd, timerfd, epoll file or pidfd (package
// anonfd) or an inotify or fanotify file (package fsnotify) open at fd, from its
// fdinfo. kind is the anon_inode name from the fd link.
func (d *dumper) addAnon(kind string, fd int, flags uint32, fi procfs.Fdinfo) (*images.FileEntry, error) {
	id := d.files.id()
	if kind == "anon_inode:inotify" {
		return d.t.inotify.Add(d.pid, d.t.tasks[0].pid, fd, id, flags)
	}
	if kind == "anon_inode:[fanotify]" {
		return fsnotify.AddFanotify(d.pid, d.t.tasks[0].pid, fd, id, flags)
	}
	return anonfd.Dump(kind, d.pid, fd, id, flags, fi, d.t.pids())
}
