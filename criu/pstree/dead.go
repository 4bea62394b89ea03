package pstree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
)

// Proc is a task restore has created, stopped under ptrace, as the end
// of the tree's building drives it.
type Proc interface {
	Pid() int // host pid
	// Sys runs a syscall in the task.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	// Scratch is an address of the task's where 24 bytes of syscall
	// arguments may be written.
	Scratch() uint64
	// DieBy lets the task go with nothing blocked and no core file, to
	// take signal sig.
	DieBy(sig syscall.Signal) error
}

// Dead is a task of the restored tree that dies before the tree
// resumes: a zombie of the images, made again to die as it did, or a
// helper restore made (to give a process group or a session its id),
// which exits and is reaped by its parent.
type Dead struct {
	Pid    int // in the images (in its pid namespace)
	Task   Proc
	Parent Proc
	Helper bool
	// Status is a zombie's wait status: its exit code, or the signal
	// that killed it.
	Status uint32
	// ParentDead: the parent is a zombie or a helper itself, which
	// takes no signal back.
	ParentDead bool
	// Quiet: a helper made with exit_signal 0, whose parent gets no
	// SIGCHLD to take back.
	Quiet bool
}

// FinishDead makes the helpers exit and their parents reap them, then
// the zombies exit with their dumped status, and takes back the SIGCHLD
// each live parent got, so that a death made again at restore is not
// signalled twice (the parents' signals are all blocked while they are
// restored). Helpers go first: a helper's parent may be a zombie, which
// reaps it before it dies.
func FinishDead(dead []Dead) error {
	var parents []Proc
	seen := map[int]bool{}
	signalled := func(d Dead) {
		if !d.ParentDead && !d.Quiet && !seen[d.Parent.Pid()] {
			seen[d.Parent.Pid()] = true
			parents = append(parents, d.Parent)
		}
	}
	for _, d := range dead {
		if !d.Helper {
			continue
		}
		if _, err := d.Task.Sys("exit_group", unix.SYS_EXIT_GROUP, 0); err != nil && !errors.Is(err, ptrace.ErrExited) {
			return fmt.Errorf("helper %d: %w", d.Pid, err)
		}
		if _, err := d.Parent.Sys("wait4", unix.SYS_WAIT4, uint64(d.Pid), 0, unix.WALL, 0); err != nil {
			return fmt.Errorf("reap helper %d: %w", d.Pid, err)
		}
		signalled(d)
	}
	for _, d := range dead {
		if d.Helper {
			continue
		}
		if sig := d.Status & 0x7f; sig != 0 {
			if err := d.Task.DieBy(syscall.Signal(sig)); err != nil {
				return fmt.Errorf("zombie %d: %w", d.Pid, err)
			}
		} else if _, err := d.Task.Sys("exit_group", unix.SYS_EXIT_GROUP, uint64(d.Status>>8&0xff)); err != nil && !errors.Is(err, ptrace.ErrExited) {
			return fmt.Errorf("zombie %d: %w", d.Pid, err)
		}
		if err := procfs.WaitZombie(d.Task.Pid(), 5*time.Second); err != nil {
			return err
		}
		signalled(d)
	}
	for _, p := range parents {
		if err := consumeSigchld(p); err != nil {
			return err
		}
	}
	return nil
}

// consumeSigchld takes a pending SIGCHLD off p, if there is one.
func consumeSigchld(p Proc) error {
	a := p.Scratch()
	b := make([]byte, 24)
	binary.LittleEndian.PutUint64(b, 1<<(unix.SIGCHLD-1))
	if err := mem.WriteRemote(p.Pid(), []mem.Range{{Start: a, End: a + 24}}, b); err != nil {
		return err
	}
	_, err := p.Sys("rt_sigtimedwait", unix.SYS_RT_SIGTIMEDWAIT, a, 0, a+8, 8)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		return err
	}
	return nil
}
