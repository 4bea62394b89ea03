package dump

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/ipcns"
	"github.com/criugo/criu/criu/mntns"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/timens"
	"github.com/criugo/criu/criu/utsns"
	"github.com/criugo/criu/proto/images"
)

// Namespaces, the CRIU way (criu/namespaces.c, criu/pstree.c): a
// namespace of the root that is not criu's own is "the root's", is
// dumped, and is made anew at restore; every other task of the tree must
// be in the root's namespaces. Each task's ids image names its
// namespaces by object id, and the inventory's root_ids are criu's own
// ids, so that restore finds what to create by comparing the root's ids
// with root_ids (CRIU's get_clone_mask). CRIU allows nested net and mnt
// namespaces below the root (CLONE_SUBNS); we do not, and we fill the
// pid, net, ipc, uts, mnt, time and cgroup ids only (the user namespace
// must be criu's, and its id is left out). A cgroup namespace of the
// tree's own is saved as CRIU does, as the prefix of the tasks' cgroup
// paths that is its root (package cgroup).
//
// The time namespace (package timens) is saved either way, as CRIU
// does: the clocks of the root's own as timens-ID.img, or criu's as
// timens-0.img, so that restore makes a new one whose clocks go on.

// nsKind is one kind of namespace a dump can take.
type nsKind struct {
	name string // as in /proc/PID/ns/NAME
	flag uint64 // CLONE_NEW*
}

// nsKinds are the namespaces a tree may have of its own.
var nsKinds = []nsKind{
	{"pid", unix.CLONE_NEWPID},
	{"net", unix.CLONE_NEWNET},
	{"ipc", unix.CLONE_NEWIPC},
	{"uts", unix.CLONE_NEWUTS},
	{"mnt", unix.CLONE_NEWNS},
	{"time", unix.CLONE_NEWTIME},
	{"cgroup", unix.CLONE_NEWCGROUP},
}

// nsCriuOnly are the namespaces every task must share with criu.
var nsCriuOnly = []string{"user"}

// nsSet is what the dump knows of the tree's namespaces.
type nsSet struct {
	// mask holds the CLONE_NEW* flags of the root's own namespaces:
	// those the dump takes.
	mask uint64
	// ino is the root's namespace inode by kind.
	ino map[string]uint64
	// id and criuID are the object ids of the root's and of criu's
	// namespace by kind (equal when they are the same namespace).
	id, criuID map[string]uint32
}

// pidns reports a tree rooted at the init of its own pid namespace: its
// images hold pids as seen inside it.
func (n *nsSet) pidns() bool { return n.mask&unix.CLONE_NEWPID != 0 }

// idOf is the object id of the tree's namespace of kind when ino is its
// inode (package nsfile).
func (n *nsSet) idOf(kind string, ino uint64) (uint32, bool) {
	return n.id[kind], n.ino[kind] == ino && ino != 0
}

// setIDs fills the namespace fields of ids (the root's namespaces, or
// criu's with criu true).
func (n *nsSet) setIDs(ids *images.TaskKobjIdsEntry, criu bool) {
	m := n.id
	if criu {
		m = n.criuID
	}
	ids.PidNsId = proto.Uint32(m["pid"])
	ids.NetNsId = proto.Uint32(m["net"])
	ids.IpcNsId = proto.Uint32(m["ipc"])
	ids.UtsNsId = proto.Uint32(m["uts"])
	ids.MntNsId = proto.Uint32(m["mnt"])
	if id, ok := m["time"]; ok {
		ids.TimeNsId = proto.Uint32(id)
	}
	ids.CgroupNsId = proto.Uint32(m["cgroup"])
}

// checkNamespaces finds the root's namespaces and refuses a tree whose
// tasks are not all in them, or whose root is in a pid namespace of its
// own without being its init. It then gives every task and thread its
// pid as seen inside the tree's pid namespace. Run on the frozen tree.
func (t *tree) checkNamespaces() error {
	root := t.tasks[0]
	ns := &nsSet{ino: map[string]uint64{}, id: map[string]uint32{}, criuID: map[string]uint32{}}
	for _, k := range nsCriuOnly {
		mine, err := procfs.NsIno(0, k)
		if err != nil {
			continue // the kernel has no such namespace
		}
		for _, d := range t.tasks {
			if d.zombie {
				continue
			}
			ino, err := procfs.NsIno(d.pid, k)
			if err != nil {
				return fmt.Errorf("dump %d: task %d: %w", root.pid, d.pid, err)
			}
			if ino != mine {
				return fmt.Errorf("dump %d: %w: task %d is in a %s namespace of its own (%s:[%d]); only pid, net, ipc, uts and mnt namespaces can be dumped", root.pid, ErrUnsupported, d.pid, k, k, ino)
			}
		}
	}
	for _, k := range nsKinds {
		mine, err := procfs.NsIno(0, k.name)
		if err != nil && k.flag == unix.CLONE_NEWTIME {
			continue // a kernel without time namespaces
		}
		if err != nil {
			return fmt.Errorf("dump %d: criu's %s namespace: %w", root.pid, k.name, err)
		}
		rino, err := procfs.NsIno(root.pid, k.name)
		if err != nil {
			return fmt.Errorf("dump %d: %s namespace: %w", root.pid, k.name, err)
		}
		ns.ino[k.name] = rino
		ns.id[k.name] = t.files.id()
		ns.criuID[k.name] = ns.id[k.name]
		if rino != mine {
			ns.mask |= k.flag
			ns.criuID[k.name] = t.files.id()
		}
		for _, d := range t.tasks[1:] {
			if d.zombie {
				continue
			}
			ino, err := procfs.NsIno(d.pid, k.name)
			if err != nil {
				return fmt.Errorf("dump %d: task %d: %w", root.pid, d.pid, err)
			}
			if ino != rino {
				return fmt.Errorf("dump %d: %w: task %d is in another %s namespace (%s:[%d]) than the root %d (%s:[%d])",
					root.pid, ErrUnsupported, d.pid, k.name, k.name, ino, root.pid, k.name, rino)
			}
		}
	}
	if err := checkTimeForChildren(t.tasks); err != nil {
		return fmt.Errorf("dump %d: %w", root.pid, err)
	}
	t.ns = ns
	for _, d := range t.tasks {
		if err := t.setVirtualIDs(d); err != nil {
			return err
		}
	}
	if ns.pidns() && root.vpid != 1 {
		return fmt.Errorf("dump %d: %w: the root is pid %d in a pid namespace of its own; only a tree rooted at that namespace's init (pid 1) can be dumped", root.pid, ErrUnsupported, root.vpid)
	}
	if ns.mask != 0 {
		t.opts.Log.Info().Int("pid", root.pid).Str("mask", fmt.Sprintf("%#x", ns.mask)).Msg("dumping the root's namespaces")
	}
	return nil
}

// checkTimeForChildren refuses a task whose children would be created in
// another time namespace than its own (it called unshare(CLONE_NEWTIME)
// and has not forked since): restore cannot make that pending namespace.
func checkTimeForChildren(tasks []*dumper) error {
	for _, d := range tasks {
		if d.zombie {
			continue
		}
		own, err := procfs.NsIno(d.pid, "time")
		if err != nil {
			return nil // a kernel without time namespaces
		}
		kids, err := procfs.NsIno(d.pid, "time_for_children")
		if err != nil {
			return fmt.Errorf("task %d: %w", d.pid, err)
		}
		if kids != own {
			return fmt.Errorf("%w: task %d creates its children in another time namespace (time:[%d]) than its own (time:[%d])", ErrUnsupported, d.pid, kids, own)
		}
	}
	return nil
}

// setVirtualIDs gives d its pid, group, session and thread ids as seen
// inside the tree's pid namespace (the host's ones without one). A group
// or session whose leader is outside that namespace is 0, as getpgid and
// getsid report it inside.
func (t *tree) setVirtualIDs(d *dumper) error {
	if !t.ns.pidns() {
		d.vpid, d.vpgid, d.vsid = d.pid, d.stat.Pgrp, d.stat.Session
		for _, th := range d.threads {
			th.Vtid = th.Tid
		}
		return nil
	}
	st, err := procfs.ReadStatus(d.pid)
	if err != nil {
		return fmt.Errorf("task %d: %w", d.pid, err)
	}
	for _, f := range []struct {
		key string
		v   *int
	}{{"NSpid", &d.vpid}, {"NSpgid", &d.vpgid}, {"NSsid", &d.vsid}} {
		if *f.v, err = st.Inner(f.key); err != nil {
			return fmt.Errorf("task %d: %w", d.pid, err)
		}
	}
	for _, th := range d.threads {
		ts, err := procfs.ReadStatusFile(procfs.Path(d.pid, fmt.Sprintf("task/%d/status", th.Tid)))
		if err != nil {
			return fmt.Errorf("thread %d: %w", th.Tid, err)
		}
		if th.Vtid, err = ts.Inner("NSpid"); err != nil {
			return fmt.Errorf("thread %d: %w", th.Tid, err)
		}
	}
	return nil
}

// netDo runs f in the tree's network namespace: sock_diag answers for
// the netns of the socket asking.
func (t *tree) netDo(f func() error) error {
	if t.ns == nil || t.ns.mask&unix.CLONE_NEWNET == 0 {
		return f()
	}
	ns, err := netns.OpenPid(t.tasks[0].pid)
	if err != nil {
		return err
	}
	defer ns.Close()
	return ns.Do(f)
}

// dumpNamespaces writes the images of the root's own namespaces: the
// network configuration, the host and domain names, the IPC objects, the
// mounts (mntns.Dump; restore still makes the mount namespace anew as a
// copy of the restorer's).
func (t *tree) dumpNamespaces(ctx context.Context) error {
	root := t.tasks[0]
	ext, err := netns.DumpExternal(ctx, t.store, root.pid, t.ns.id["net"], t.opts.ExternalNetns)
	if err != nil {
		return fmt.Errorf("dump %d: %w", root.pid, err)
	}
	if t.ns.mask&unix.CLONE_NEWNET != 0 && !t.opts.EmptyNetns && !ext {
		ns, err := netns.OpenPid(root.pid)
		if err != nil {
			return err
		}
		defer ns.Close()
		if err := netns.Dump(ctx, t.store, ns, t.ns.id["net"], netns.DumpOptions{IPTool: t.opts.IPTool, Tun: t.tuns}, t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	if t.ns.mask&unix.CLONE_NEWUTS != 0 {
		if err := utsns.Dump(ctx, t.store, root.pid, t.ns.id["uts"], t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	if t.ns.mask&unix.CLONE_NEWNS != 0 {
		if err := mntns.CheckFiles(root.pid, t.files.entries); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
		if err := mntns.Dump(ctx, t.store, root.pid, t.ns.id["mnt"], t.opts.Mounts.WithFiles(t.files.entries), t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	if _, ok := t.ns.id["time"]; ok {
		// The clocks of the tree's own time namespace, or criu's.
		pid, id := root.pid, t.ns.id["time"]
		if t.ns.mask&unix.CLONE_NEWTIME == 0 {
			pid, id = 0, 0
		}
		if err := timens.Dump(ctx, t.store, pid, id, t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	if t.ns.mask&unix.CLONE_NEWIPC != 0 {
		// Every System V object of the namespace, attached or not (the
		// attaches are the tasks' VMA_AREA_SYSVIPC vmas).
		if err := ipcns.Dump(ctx, t.store, root.pid, t.ns.id["ipc"], t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	return nil
}
