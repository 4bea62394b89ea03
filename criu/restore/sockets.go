package restore

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/netlock"
	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/proto/images"
)

// sockRestorer is what package sockets needs of the tree restorer (sockets.Restorer).
type sockRestorer struct{ t *treeRestorer }

// inContainer runs f where paths resolve as the tree's, for the unix
// sockets bound and connected by name: for a tree whose mount
// namespace was made (a container, t.mnt), on a thread that joined the
// root task's network and mount namespaces; otherwise here (in the
// tree's network namespace already, openMasters).
func (t *treeRestorer) inContainer(f func() error) error {
	if t.mnt == nil {
		return f()
	}
	types := []nsenter.Type{nsenter.Mnt}
	if t.mask&unix.CLONE_NEWNET != 0 {
		types = []nsenter.Type{nsenter.Net, nsenter.Mnt}
	}
	return nsenter.DoAll(t.nodes[0].r.pid, types, f)
}

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

func (r sockRestorer) Uncover(m []int32, p []string) (func() error, error) {
	return r.t.mnt.Uncover(m, p)
}

// lockConns holds the TCP connections of the images while they are
// restored, when the dump's lock is not here (netlock.LockRestore): a
// host-flavor restore of a dump made elsewhere.
func (t *treeRestorer) lockConns(ctx context.Context) (*netlock.Lock, error) {
	if t.mask&unix.CLONE_NEWNET != 0 {
		return nil, nil // netns.Restore locks the new namespace whole
	}
	m := netlock.FromInventory(t.ti.inv.NetworkLockMethod)
	return netlock.LockRestore(ctx, m, t.ti.inv.GetDumpCriuRunId(), t.tcpConns(), t.log)
}

// tcpConns are the TCP connections of the images.
func (t *treeRestorer) tcpConns() []netlock.Conn {
	var isks []*images.InetSkEntry
	for _, f := range t.ti.files {
		if f.GetIsk() != nil {
			isks = append(isks, f.GetIsk())
		}
	}
	return netlock.ConnsOfFiles(t.ti.files)
}
