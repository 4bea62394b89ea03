package restore

import (
	"context"
	"fmt"

	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/tty"
)

// Terminals are package tty's: t.ttys holds them once openTTYs has
// opened them; this file gives it what it needs of the tree.

// openTTYs opens, in the restorer, every terminal the tasks' fds lead
// to, before the tree is created (tty.Open); a container's ptys once
// its mounts (its devpts) are made.
func (t *treeRestorer) openTTYs(ctx context.Context) error {
	var err error
	t.ttys, err = tty.Open(ctx, t.store, t.ti.files, t.ti.fdinfo, t.ti.ttyInfo, ttyRestorer{t}, t.log)
	return err
}

// setCtty gives the session leader n its controlling terminal back,
// just after its setsid (tty.Terminals.SetCtty).
func (t *treeRestorer) setCtty(n *node) error {
	return t.ttys.SetCtty(n.pid, ttyTask{n.r})
}

// setForeground sets each restored controlling terminal's foreground
// group, once every group exists (after setGroups).
func (t *treeRestorer) setForeground() error {
	return t.ttys.SetForeground()
}

// ttyRestorer is the tree restorer as package tty sees it.
type ttyRestorer struct{ t *treeRestorer }

func (x ttyRestorer) Leads(sid int) bool {
	n := x.t.byPid[sid]
	return n != nil && n.sid() == sid && !n.sn.zombie()
}

func (x ttyRestorer) InGroup(sid, pgrp int) bool {
	for _, n := range x.t.nodes {
		if n.pgid() == pgrp && n.sid() == sid {
			return true
		}
	}
	return false
}

func (x ttyRestorer) InheritedFd(key string) (int, bool) { return x.t.inheritedFd(key) }

func (x ttyRestorer) ReopenInherited(fd int, flags uint32) (int, error) {
	return files.ReopenInherited(fd, flags)
}

func (x ttyRestorer) FileUser(id uint32) string { return x.t.fileUser(id) }

func (x ttyRestorer) Hold(fd int)                        { x.t.masterFds = append(x.t.masterFds, fd) }
func (x ttyRestorer) PtyMaster(index uint32) (int, bool) { return x.t.mnt.PtyMaster(index) }
func (x ttyRestorer) OrphanMaster() func(fd int) error   { return x.t.opts.OrphanPtsMaster }
func (x ttyRestorer) Devpts() (string, string) {
	if x.t.mnt == nil {
		return "/dev/pts", "/dev/ptmx"
	}
	pts := x.t.mnt.InRoot(x.t.nodes[0].r.pid, "/dev/pts")
	return pts, pts + "/ptmx"
}

func (x ttyRestorer) Share(id uint32, fd int) { x.t.masters[id] = fd }

func (x ttyRestorer) RestorerPidfd(r tty.Remote) (uint64, error) {
	return x.t.hand.Pidfd(remoteTask{r})
}

// remoteTask is a task of package tty as package handoff sees it.
type remoteTask struct{ tty.Remote }

func (x remoteTask) Sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	return x.Syscall(name, nr, args...)
}

func (x ttyRestorer) Task(pid int) tty.Remote { return ttyTask{x.t.byPid[pid].r} }

// ttyTask is a created task as package tty sees it.
type ttyTask struct{ r *restorer }

func (x ttyTask) Pid() int { return x.r.pid }

func (x ttyTask) Syscall(name string, nr uintptr, args ...uint64) (uint64, error) {
	return x.r.sys(name, nr, args...)
}

func (x ttyTask) Scratch() uint64 { return stackScratch(x.r) }

// fileUser names, for errors, the first task and fd that have file id:
// "task PID fd N has".
func (t *treeRestorer) fileUser(id uint32) string {
	for _, n := range t.nodes {
		for _, fi := range n.sn.fdinfo {
			if fi.GetId() == id {
				return fmt.Sprintf("task %d fd %d has", n.pid, fi.GetFd())
			}
		}
	}
	return fmt.Sprintf("file %d is", id)
}
