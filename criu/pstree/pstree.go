package pstree

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/task"
	"github.com/criugo/criu/proto/images"
)

// Image is the tree's image.
const Image = "pstree.img"

// Task is one task of the tree, its ids inside the tree's pid namespace.
type Task struct {
	Pid, Ppid, Pgid, Sid int // Ppid 0: the root
	Threads              []int
	// Zombie: a dead task, whose exit status (ExitCode, a wait
	// status), stat flags and comm are all that is kept.
	Zombie   bool
	ExitCode uint32
	Flags    uint32
	Comm     string
}

// CheckSessions refuses, naming it, a task whose session restore cannot
// give it. Restore makes sessions by setsid and fork, so a task's
// session must be its own, the root's, or one an ancestor leads (a
// session outside the tree's pid namespace, 0, is left to restore). A
// member whose leader has exited (a zombie, or reaped) and that was
// re-parented to a subreaper or init is refused: CRIU 4.2 rebuilds it
// through a helper task forked from the leader, which exits; not yet
// here. tasks are parents first, the root first.
func CheckSessions(tasks []Task) error {
	if len(tasks) == 0 {
		return nil
	}
	root := tasks[0]
	byPid := make(map[int]*Task, len(tasks))
	for i := range tasks {
		byPid[tasks[i].Pid] = &tasks[i]
	}
	for _, d := range tasks[1:] {
		if d.Sid == d.Pid || d.Sid == root.Sid || d.Sid == 0 {
			continue
		}
		led := false
		for a := byPid[d.Ppid]; a != nil && !led; a = byPid[a.Ppid] {
			led = a.Pid == d.Sid
		}
		if led {
			continue
		}
		why := "it is not in the tree"
		if l := byPid[d.Sid]; l != nil {
			why = "it is not an ancestor of the task"
			if l.Zombie {
				why = "it is a zombie"
			}
		}
		return fmt.Errorf("%w: task %d is in session %d, whose leader cannot give it its session at restore: %s (the task was re-parented when its session's leader exited)", errdefs.ErrUnsupported, d.Pid, d.Sid, why)
	}
	return nil
}

// Write writes pstree.img, an entry per task, and the core image of
// each zombie (its task core only: dead, with its exit status), as CRIU
// does.
func Write(ctx context.Context, s image.Store, tasks []Task) error {
	psts := make([]proto.Message, 0, len(tasks))
	for _, d := range tasks {
		pst := &images.PstreeEntry{Pid: proto.Uint32(uint32(d.Pid)), Ppid: proto.Uint32(uint32(d.Ppid)),
			Pgid: proto.Uint32(uint32(d.Pgid)), Sid: proto.Uint32(uint32(d.Sid))}
		if d.Zombie {
			pst.Threads = []uint32{uint32(d.Pid)}
			core := &images.CoreEntry{
				Mtype: images.CoreEntry_X86_64.Enum(),
				Tc: &images.TaskCoreEntry{
					TaskState: proto.Uint32(task.StateDead), ExitCode: proto.Uint32(d.ExitCode),
					Personality: proto.Uint32(0), Flags: proto.Uint32(d.Flags), BlkSigset: proto.Uint64(0),
					Comm: proto.String(d.Comm),
				},
			}
			if err := image.WriteImage(ctx, s, fmt.Sprintf("core-%d.img", d.Pid), core); err != nil {
				return err
			}
		}
		for _, th := range d.Threads {
			pst.Threads = append(pst.Threads, uint32(th))
		}
		psts = append(psts, pst)
	}
	return image.WriteImage(ctx, s, Image, psts...)
}
