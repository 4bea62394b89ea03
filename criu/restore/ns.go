package restore

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/ipcns"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/utsns"
	"github.com/criugo/criu/proto/images"
)

// Namespaces, as CRIU finds them (criu/pstree.c get_clone_mask): the
// namespaces to create are those whose id in the root's ids differs from
// the inventory's root_ids, which are the dumping criu's own. The root is
// cloned into all of them at once; every other task must be in the
// root's. Images without namespace ids (both zero) need none.
//
// With a pid namespace of its own, the root is its init and every pid in
// the images (pstree, core and ids image names, lock owners) is a pid
// inside it: node.pid and restorer.vpid hold those, restorer.pid and
// restorer.tids the host's, which ptrace, /proc and pidfds need.

// nsFlags pairs each namespace kind of TaskKobjIdsEntry with its
// CLONE_NEW* flag.
var nsFlags = []struct {
	name string
	flag uint64
	id   func(*images.TaskKobjIdsEntry) uint32
}{
	{"pid", unix.CLONE_NEWPID, (*images.TaskKobjIdsEntry).GetPidNsId},
	{"net", unix.CLONE_NEWNET, (*images.TaskKobjIdsEntry).GetNetNsId},
	{"ipc", unix.CLONE_NEWIPC, (*images.TaskKobjIdsEntry).GetIpcNsId},
	{"uts", unix.CLONE_NEWUTS, (*images.TaskKobjIdsEntry).GetUtsNsId},
	{"mnt", unix.CLONE_NEWNS, (*images.TaskKobjIdsEntry).GetMntNsId},
	{"time", unix.CLONE_NEWTIME, (*images.TaskKobjIdsEntry).GetTimeNsId},
	{"cgroup", unix.CLONE_NEWCGROUP, (*images.TaskKobjIdsEntry).GetCgroupNsId},
}

// nsMask returns the CLONE_NEW* flags of the namespaces the root must be
// created in, and refuses a tree whose other tasks are in other
// namespaces than the root, or whose root has a pid namespace of its own
// without being its pid 1.
func (t *treeRestorer) nsMask() (uint64, error) {
	root := t.nodes[0]
	rids, cids := root.sn.ids, t.ti.inv.GetRootIds()
	if rids == nil || cids == nil {
		return 0, nil
	}
	var mask uint64
	for _, k := range nsFlags {
		if k.id(rids) != k.id(cids) {
			mask |= k.flag
		}
		for _, n := range t.nodes[1:] {
			if n.sn.ids == nil {
				continue // a zombie
			}
			if k.id(n.sn.ids) != k.id(rids) {
				return 0, fmt.Errorf("%w: task %d is in another %s namespace (%d) than the root %d (%d)", ErrUnsupported, n.pid, k.name, k.id(n.sn.ids), root.pid, k.id(rids))
			}
		}
	}
	if mask&unix.CLONE_NEWPID != 0 && root.pid != 1 {
		return 0, fmt.Errorf("%w: the root %d has a pid namespace of its own but is not its init (pid 1)", ErrBadImage, root.pid)
	}
	return mask, nil
}

// pidns reports a tree restored into a pid namespace of its own.
func (t *treeRestorer) pidns() bool { return t.mask&unix.CLONE_NEWPID != 0 }

// restoreNamespaces configures the namespaces the root was created in,
// before any socket, file or mapping is made in them: the network
// namespace's links, addresses, routes and rules, the host and domain
// names, the IPC objects. The mount namespace is a copy of ours (mntCopy) or a container's. It
// keeps the network namespace open in t.net, for the sockets (netDo).
func (t *treeRestorer) restoreNamespaces(ctx context.Context) error {
	root := t.nodes[0]
	ids := root.sn.ids
	if t.mnt != nil {
		err := t.mnt.Make(ctx, root.r.pid, root.r.sys)
		t.masterFds = append(t.masterFds, t.mnt.PtyMasters()...) // ours to close
		if err != nil {
			return fmt.Errorf("restore mount namespace %d: %w", ids.GetMntNsId(), err)
		}
	}
	err := t.mntCopy.Make(ctx, root.r.pid, root.r.sys)
	if t.masterFds = append(t.masterFds, t.mntCopy.PtyMasters()...); err != nil { // ours to close
		return fmt.Errorf("restore mount namespace %d: %w", ids.GetMntNsId(), err)
	}
	if t.mask&unix.CLONE_NEWNET != 0 {
		ns, err := netns.OpenPid(root.r.pid)
		if err != nil {
			return err
		}
		t.net = ns
		opts := netns.RestoreOptions{IPTool: t.opts.IPTool, Veth: t.opts.Veth, Inv: t.ti.inv, Empty: t.opts.EmptyNetns || t.extNet >= 0, FirewallLater: true}
		if err := netns.Restore(ctx, t.store, ns, ids.GetNetNsId(), opts, t.log); err != nil {
			return fmt.Errorf("restore network namespace %d: %w", ids.GetNetNsId(), err)
		}
	}
	if t.mask&unix.CLONE_NEWUTS != 0 {
		if err := utsns.Restore(ctx, t.store, root.r.pid, ids.GetUtsNsId(), t.log); err != nil {
			return fmt.Errorf("restore uts namespace %d: %w", ids.GetUtsNsId(), err)
		}
	}
	if t.mask&unix.CLONE_NEWIPC != 0 {
		// Before memory: tasks attach their shm segments by shmid.
		// Segments removed while attached come back live, and are
		// removed again once the tasks attached them (t.ipc.Finish).
		ipc, err := ipcns.Restore(ctx, t.store, root.r.pid, ids.GetIpcNsId(), t.log)
		if err != nil {
			return fmt.Errorf("restore ipc namespace %d: %w", ids.GetIpcNsId(), err)
		}
		t.ipc = ipc
	}
	return nil
}

// restoreFirewall loads the network namespace's rules once its sockets
// are made (netns.RestoreOptions.FirewallLater), before they go on.
func (t *treeRestorer) restoreFirewall(ctx context.Context) error {
	if t.net == nil || t.opts.EmptyNetns || t.extNet >= 0 {
		return nil
	}
	return netns.RestoreFirewall(ctx, t.store, t.net, t.nodes[0].sn.ids.GetNetNsId())
}

// netDo runs f in the tree's network namespace (a socket belongs to the
// netns of the thread that creates it), or here without one.
func (t *treeRestorer) netDo(f func() error) error {
	if t.net == nil {
		return f()
	}
	return t.net.Do(f)
}
