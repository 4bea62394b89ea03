package restore

import (
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/criu/spawn"
	"github.com/criugo/criu/proto/images"
)

// Task is a restored, running task.
type Task struct {
	Pid   int
	Stats Stats
	tr    *ptrace.Tracer
}

// Wait waits for the restored task to exit and returns its wait status.
// Only valid once, from the process that restored it.
func (t *Task) Wait() (unix.WaitStatus, error) {
	st, err := t.tr.WaitExit(t.Pid)
	t.tr.Close()
	return st.WaitStatus, err
}

// Release lets the restored task go without waiting for it.
func (t *Task) Release() { t.tr.Close() }

type restorer struct {
	opts  Options
	log   zerolog.Logger
	store image.Store
	sn    *snapshot
	tr    *ptrace.Tracer
	// pid is the task's host pid (ptrace, /proc, pidfds); vpid its pid
	// in the images, as seen inside its pid namespace (ns.go).
	pid, vpid int
	// leader injects into the restored task's main thread.
	in     *ptrace.Injector
	scr    uint64 // scratch area in the task
	ghosts *files.Ghosts
	tids   []int // threads created so far, leader first (host tids)
	vtids  []int // the same threads' tids in the images
	stats  Stats
	t      *treeRestorer
	// seccomp: the threads' filters, from restoreThreads (taskmisc.go).
	seccomp *seccomp.Plan
	// fdsAbove: a number above every fd of the task's images (0 until
	// installShared needs it).
	fdsAbove uint64
	// inherit is the parent's snapshot when the task was forked from
	// its parent after the parent's memory was restored (package mm);
	// nil for the root.
	inherit *snapshot
}

const scratchSize = mm.ScratchSize

// fork makes the root task (package spawn): with the dumped pid, or as
// pid 1 of a new pid namespace, in the namespaces of treeRestorer.mask;
// a child of criu, or of criu's parent with Options.Sibling.
//
// Once it returns nil, the root is the tree's (treeRestorer.killAll kills
// it on failure); on error, fork kills what it made itself. A root that is
// the init of a pid namespace must not be killed while tasks of the
// namespace still wait to be reaped by the tracer, which killAll handles.
func (r *restorer) fork() (err error) {
	exe := r.sn.files[r.sn.mm.GetExeFileId()].GetReg()
	if exe == nil {
		return fmt.Errorf("%w: exe file %d not in files.img", ErrBadImage, r.sn.mm.GetExeFileId())
	}
	exePath := exe.GetName()
	if g, ok := r.ghosts.Of(r.sn.mm.GetExeFileId()); ok {
		exePath = g
	} else if r.t.mnt != nil {
		if exePath, err = r.t.mnt.HostPath(exePath); err != nil {
			return fmt.Errorf("exe: %w", err)
		}
	}
	setTid := r.vpid
	if r.t.pidns() {
		setTid = 0 // the init of a new pid namespace is its pid 1 anyway
	}
	// Time and cgroup namespaces are made apart: their offsets, root cgroups set first (create).
	flags := uint64(r.t.mask &^ (unix.CLONE_NEWTIME | unix.CLONE_NEWCGROUP))
	spec := spawn.Spec{Exe: exePath, Stdio: r.opts.Stdio, Pid: setTid, Flags: flags, Clocks: r.t.clocks, Sibling: r.opts.Sibling, Log: r.log}
	if r.t.extNet >= 0 { // joined by the stub, not made (netns.External)
		spec.Flags, spec.Join = flags&^unix.CLONE_NEWNET, func(in *ptrace.Injector) error { return netns.Join(in, r.t.extNet) }
	}
	pid, ip, err := spawn.Root(r.tr, spec)
	if errors.Is(err, ErrPidTaken) {
		return fmt.Errorf("restore %d: %w", r.vpid, err)
	}
	if err != nil {
		return err
	}
	r.pid = pid
	r.tids, r.vtids = []int{r.pid}, []int{r.vpid}
	defer func() {
		if err != nil {
			r.tr.Kill(r.pid, r.tids)
		}
	}()
	cregs, err := r.tr.GetRegs(r.pid)
	if err != nil {
		return err
	}
	if err := r.tr.SetSigmask(r.pid, ^uint64(0)); err != nil {
		return err
	}
	r.in = &ptrace.Injector{T: r.tr, Tid: r.pid, Base: cregs, IP: ip}
	return nil
}

// sys injects a syscall into the leader.
func (r *restorer) sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	return r.in.Syscall(name, nr, args...)
}

// writeScratch writes b at offset off of the scratch area.
func (r *restorer) writeScratch(off uint64, b []byte) error {
	return mem.WriteRemote(r.pid, []mem.Range{{Start: r.scr + off, End: r.scr + off + uint64(len(b))}}, b)
}

// cstring writes s NUL-terminated at offset off of scratch and returns its address.
func (r *restorer) cstring(off uint64, s string) (uint64, error) {
	if len(s)+1 > mem.PageSize {
		return 0, fmt.Errorf("path too long: %q", s)
	}
	return r.scr + off, r.writeScratch(off, append([]byte(s), 0))
}

// filePath is where to open file id from: its name, or its ghost copy.
func (r *restorer) filePath(id uint32) (string, *images.RegFileEntry, error) {
	return r.ghosts.Path(r.sn.files, id)
}
