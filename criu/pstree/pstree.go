package pstree

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

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
