package dump

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/ipcns"
	"github.com/criugo/criu/criu/mntns"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/timens"
	"github.com/criugo/criu/criu/treens"
	"github.com/criugo/criu/criu/utsns"
)

// The tree's namespaces are package treens's: which are the root's own,
// that every task shares them, the ids the images name them by. What
// each holds is dumped by its own package (dumpNamespaces).

// checkNamespaces finds the root's namespaces and refuses a tree whose
// tasks are not all in them, or whose root is in a pid namespace of its
// own without being its init. It then gives every task and thread its
// pid as seen inside the tree's pid namespace. Run on the frozen tree.
func (t *tree) checkNamespaces() error {
	root := t.tasks[0]
	var pids []int
	for _, d := range t.tasks {
		if !d.zombie {
			pids = append(pids, d.pid)
		}
	}
	ns, err := treens.Check(pids, t.files.id)
	if err != nil {
		return err
	}
	t.ns = ns
	t.files.regs.OwnMounts = ns.Mask&unix.CLONE_NEWNS != 0
	for _, d := range t.tasks {
		if err := t.setVirtualIDs(d); err != nil {
			return err
		}
	}
	if ns.PidNS() && root.vpid != 1 {
		return fmt.Errorf("dump %d: %w: the root is pid %d in a pid namespace of its own; only a tree rooted at that namespace's init (pid 1) can be dumped", root.pid, ErrUnsupported, root.vpid)
	}
	if ns.Mask != 0 {
		t.opts.Log.Info().Int("pid", root.pid).Str("mask", fmt.Sprintf("%#x", ns.Mask)).Msg("dumping the root's namespaces")
	}
	return nil
}

// setVirtualIDs gives d its pid, group, session and thread ids as seen
// inside the tree's pid namespace (the host's ones without one). A group
// or session whose leader is outside that namespace is 0, as getpgid and
// getsid report it inside.
func (t *tree) setVirtualIDs(d *dumper) error {
	if !t.ns.PidNS() {
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
	if t.ns == nil || t.ns.Mask&unix.CLONE_NEWNET == 0 {
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
	ext, err := netns.DumpExternal(ctx, t.store, root.pid, t.ns.ID["net"], t.opts.ExternalNetns)
	if err != nil {
		return fmt.Errorf("dump %d: %w", root.pid, err)
	}
	if t.ns.Mask&unix.CLONE_NEWNET != 0 && !t.opts.EmptyNetns && !ext {
		ns, err := netns.OpenPid(root.pid)
		if err != nil {
			return err
		}
		defer ns.Close()
		if err := netns.Dump(ctx, t.store, ns, t.ns.ID["net"], netns.DumpOptions{IPTool: t.opts.IPTool, Tun: t.tuns}, t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	if t.ns.Mask&unix.CLONE_NEWUTS != 0 {
		if err := utsns.Dump(ctx, t.store, root.pid, t.ns.ID["uts"], t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	if t.ns.Mask&unix.CLONE_NEWNS != 0 {
		if err := mntns.CheckFiles(root.pid, t.files.entries); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
		if err := mntns.Dump(ctx, t.store, root.pid, t.ns.ID["mnt"], t.opts.Mounts.WithFiles(t.files.entries), t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	if _, ok := t.ns.ID["time"]; ok {
		// The clocks of the tree's own time namespace, or criu's.
		pid, id := root.pid, t.ns.ID["time"]
		if t.ns.Mask&unix.CLONE_NEWTIME == 0 {
			pid, id = 0, 0
		}
		if err := timens.Dump(ctx, t.store, pid, id, t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	if t.ns.Mask&unix.CLONE_NEWIPC != 0 {
		// Every System V object of the namespace, attached or not (the
		// attaches are the tasks' VMA_AREA_SYSVIPC vmas).
		if err := ipcns.Dump(ctx, t.store, root.pid, t.ns.ID["ipc"], t.opts.Log); err != nil {
			return fmt.Errorf("dump %d: %w", root.pid, err)
		}
	}
	return nil
}
