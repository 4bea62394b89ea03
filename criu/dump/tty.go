package dump

import (
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/tty"
)

// Terminals are package tty's: t.ttys collects them; this file gives it
// what it needs of the tree.

// newTTYSet returns the collector of t's terminals.
func newTTYSet(t *tree) *tty.Set {
	return tty.NewSet(ttyTree{t}, tty.Options{Pid: t.opts.Pid, ShellJob: t.opts.ShellJob, ExternalTTY: t.opts.ExternalTTY, OrphanPtsMaster: t.opts.OrphanPtsMaster, Log: t.opts.Log})
}

// ttyTree is the frozen tree as package tty sees it.
type ttyTree struct{ t *tree }

func (x ttyTree) Tasks() []tty.Task {
	out := make([]tty.Task, len(x.t.tasks))
	for i, d := range x.t.tasks {
		out[i] = tty.Task{Pid: d.pid, Zombie: d.zombie, Stat: d.stat, VPgid: d.vpgid, VSid: d.vsid}
	}
	return out
}

// ttyFiles is the dump's file table as package tty sees it.
type ttyFiles struct{ f *fileSet }

func (x ttyFiles) NewID() uint32 { return x.f.id() }

func (x ttyFiles) AddReg(path, link string, flags uint32) (uint32, error) {
	return x.f.addReg(path, link, flags, 0)
}

// ttyFd is fd of d, on a terminal, as package tty takes it.
func (d *dumper) ttyFd(fd int, st *unix.Stat_t, flags uint32, fi procfs.Fdinfo, target string) tty.Fd {
	return tty.Fd{Pid: d.pid, Fd: fd, Stat: st, Flags: flags, Info: fi, Target: target}
}
