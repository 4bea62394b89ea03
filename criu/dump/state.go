package dump

import (
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/task"
)

// scratch is a page mapped shared-anonymous into the task for the
// duration of the dump: injected syscalls write their results there.
type scratch struct {
	addr uint64
	size uint64
}

const scratchSize = 2 * mem.PageSize

// injector returns an injector for th at the task's syscall instruction.
func (d *dumper) injector(th *thread) *ptrace.Injector {
	return &ptrace.Injector{T: d.tr, Tid: th.Tid, Base: th.Regs, IP: d.sysIP}
}

// frozen is d as package task reads its state, once the scratch area is
// mapped.
func (d *dumper) frozen() *task.Frozen {
	f := &task.Frozen{Pid: d.pid, Vpid: d.vpid, Ppid: d.ppid, Stat: d.stat, Tr: d.tr, Scratch: d.scr.addr}
	for _, th := range d.threads {
		f.Threads = append(f.Threads, &task.Thread{Tid: th.Tid, Vtid: th.Vtid, Regs: th.Regs, Mask: th.Mask, In: d.injector(th)})
	}
	return f
}
