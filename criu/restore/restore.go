package restore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/cleanup"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

const taskSize = 0x7ffffffff000

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
	ghosts map[uint32]string
	tids   []int // threads created so far, leader first (host tids)
	vtids  []int // the same threads' tids in the images
	stats  Stats
	t      *treeRestorer
	// inherit is the parent's snapshot when the task was forked from
	// its parent after the parent's memory was restored (meminherit.go);
	// nil for the root.
	inherit *snapshot
}

const scratchSize = 4 * mem.PageSize

// fork starts the stub and clones the root task from it: with the dumped
// pid, or as pid 1 of a new pid namespace, in the namespaces of
// treeRestorer.mask.
//
// Once it returns nil, the root is the tree's (treeRestorer.killAll kills
// it on failure); on error, fork kills what it made itself. A root that is
// the init of a pid namespace must not be killed while tasks of the
// namespace still wait to be reaped by the tracer, which killAll handles.
func (r *restorer) fork(undo *cleanup.Cleanup) (err error) {
	exe := r.sn.files[r.sn.mm.GetExeFileId()].GetReg()
	if exe == nil {
		return fmt.Errorf("%w: exe file %d not in files.img", ErrBadImage, r.sn.mm.GetExeFileId())
	}
	exePath := exe.GetName()
	if g, ok := r.ghosts[r.sn.mm.GetExeFileId()]; ok {
		exePath = g
	}
	files := []uintptr{0, 1, 2}
	if len(r.opts.Stdio) == 3 {
		files = r.opts.Stdio
	}
	attr := &syscall.ProcAttr{Dir: "/", Env: []string{}, Files: files}
	stub, err := r.tr.StartTraced(exePath, []string{exePath}, attr)
	if err != nil {
		return fmt.Errorf("start stub: %w", err)
	}
	undo.Add(func() { r.tr.Kill(stub, []int{stub}) })
	if err := r.tr.SetOptions(stub, ptrace.OptTraceClone|ptrace.OptExitKill); err != nil {
		return err
	}
	regs, err := r.tr.GetRegs(stub)
	if err != nil {
		return err
	}
	maps, err := procfs.ReadSmaps(stub)
	if err != nil {
		return err
	}
	ip, err := ptrace.FindSyscall(stub, maps)
	if err != nil {
		return err
	}
	// clone_args and the set_tid array go below the stub's stack pointer.
	args := (regs.Rsp - 4096) &^ 15
	b := make([]byte, 96)
	le := binary.LittleEndian
	le.PutUint64(b[0:], unix.CLONE_PARENT|r.t.mask) // flags
	if !r.t.pidns() {
		// The init of a new pid namespace is its pid 1 anyway.
		le.PutUint64(b[64:], args+88) // set_tid
		le.PutUint64(b[72:], 1)       // set_tid_size
		le.PutUint64(b[88:], uint64(r.vpid))
	}
	if err := mem.WriteRemote(stub, []mem.Range{{Start: args, End: args + 96}}, b); err != nil {
		return err
	}
	sin := &ptrace.Injector{T: r.tr, Tid: stub, Base: regs, IP: ip}
	child, err := sin.Syscall("clone3", unix.SYS_CLONE3, args, 88)
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("restore %d: %w", r.vpid, ErrPidTaken)
		}
		return fmt.Errorf("create the root task (clone flags %#x): %w", unix.CLONE_PARENT|r.t.mask, err)
	}
	// The stub is in our pid namespace: child is the host pid.
	r.pid = int(child)
	if !r.t.pidns() && r.pid != r.vpid {
		return fmt.Errorf("clone3 gave pid %d, want %d", child, r.vpid)
	}
	r.tids, r.vtids = []int{r.pid}, []int{r.vpid}
	defer func() {
		if err != nil {
			r.tr.Kill(r.pid, r.tids)
		}
	}()
	st, err := r.tr.WaitStop(r.pid)
	if err != nil {
		return err
	}
	if !st.Stopped() {
		return fmt.Errorf("new task %d: unexpected status %#x", r.pid, uint32(st.WaitStatus))
	}
	// The stub's work is done.
	r.tr.Kill(stub, []int{stub})
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

// makeGhosts recreates deleted files next to where they were, to be opened
// and then unlinked again.
func (r *restorer) makeGhosts(ctx context.Context, undo *cleanup.Cleanup) error {
	made := map[uint32]string{}
	for fileID, gid := range r.sn.remaps {
		f := r.sn.files[fileID].GetReg()
		if f == nil {
			return fmt.Errorf("%w: remap of unknown file %d", ErrBadImage, fileID)
		}
		if p, ok := made[gid]; ok {
			r.ghosts[fileID] = p
			continue
		}
		name := fmt.Sprintf("ghost-file-%x.img", gid)
		rd, err := r.store.Open(ctx, name)
		if err != nil {
			return err
		}
		dec, err := image.NewDecoder(rd, name)
		if err != nil {
			rd.Close()
			return err
		}
		g := &images.GhostFileEntry{}
		if err := dec.Decode(g); err != nil {
			rd.Close()
			return err
		}
		if g.GetMode()&unix.S_IFMT == unix.S_IFDIR {
			// A deleted directory (an fd or cwd on it): made empty,
			// removed again once the tasks hold it.
			rd.Close()
			parents, err := r.makeParents(f.GetName())
			if err != nil {
				return err
			}
			undo.Add(func() { removeAll(parents) })
			p, err := makeGhostDir(f.GetName(), gid, g.GetMode())
			if err != nil {
				return err
			}
			undo.Add(func() { os.Remove(p) })
			if err := ghostAttrs(p, g); err != nil {
				return err
			}
			made[gid] = p
			r.ghosts[fileID] = p
			r.t.ghostIno[[2]uint64{uint64(g.GetDev()), g.GetIno()}] = p
			continue
		}
		parents, err := r.makeParents(f.GetName())
		if err != nil {
			rd.Close()
			return err
		}
		undo.Add(func() { removeAll(parents) })
		// At its own name when that is free, so that maps reads the same.
		p := f.GetName()
		out, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(g.GetMode()&0o7777))
		if err != nil {
			p = fmt.Sprintf("%s.criu-ghost.%x", f.GetName(), gid)
			out, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, os.FileMode(g.GetMode()&0o7777))
		}
		if err != nil {
			rd.Close()
			return fmt.Errorf("create ghost file: %w", err)
		}
		undo.Add(func() { os.Remove(p) })
		r.t.ghostIno[[2]uint64{uint64(g.GetDev()), g.GetIno()}] = p
		if g.GetChunks() {
			err = readChunks(dec, out, int64(g.GetSize()))
		} else {
			err = dec.CopyPayload(out, int64(g.GetSize()))
		}
		rd.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write ghost file %s: %w", p, err)
		}
		if err := ghostAttrs(p, g); err != nil {
			return err
		}
		made[gid] = p
		r.ghosts[fileID] = p
	}
	return nil
}

// readChunks fills a ghost file saved as chunks (CRIU's format): the
// file is made size bytes long, all hole, then each GhostChunkEntry's
// bytes are written at its offset, which keeps the holes between them.
func readChunks(dec *image.Decoder, out *os.File, size int64) error {
	if err := out.Truncate(size); err != nil {
		return err
	}
	for {
		ce := &images.GhostChunkEntry{}
		err := dec.Decode(ce)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		off, n := int64(ce.GetOff()), int64(ce.GetLen())
		if off < 0 || n < 0 || off+n > size || off+n < off {
			return fmt.Errorf("%w: ghost chunk %d+%d outside a file of %d bytes", ErrBadImage, off, n, size)
		}
		if err := dec.CopyPayload(io.NewOffsetWriter(out, off), n); err != nil {
			return err
		}
	}
}

// ghostAttrs gives a ghost its owner, mode (set-id bits too: chown clears
// them, so chmod comes after) and access and modification times, as CRIU.
func ghostAttrs(p string, g *images.GhostFileEntry) error {
	if err := os.Lchown(p, int(g.GetUid()), int(g.GetGid())); err != nil {
		return fmt.Errorf("ghost file %s: %w", p, err)
	}
	if err := unix.Chmod(p, g.GetMode()&0o7777); err != nil {
		return fmt.Errorf("ghost file %s: %w", p, os.NewSyscallError("chmod", err))
	}
	if g.Atim == nil || g.Mtim == nil {
		return nil // an image without them
	}
	tv := []unix.Timeval{
		{Sec: int64(g.Atim.GetTvSec()), Usec: int64(g.Atim.GetTvUsec())},
		{Sec: int64(g.Mtim.GetTvSec()), Usec: int64(g.Mtim.GetTvUsec())},
	}
	if err := unix.Utimes(p, tv); err != nil {
		return fmt.Errorf("ghost file %s: %w", p, os.NewSyscallError("utimes", err))
	}
	return nil
}

// makeGhostDir makes a deleted directory again, at its own name when
// that is free, with its mode.
func makeGhostDir(name string, gid uint32, mode uint32) (string, error) {
	p := name
	err := unix.Mkdir(p, mode&0o7777)
	if err != nil {
		p = fmt.Sprintf("%s.criu-ghost.%x", name, gid)
		err = unix.Mkdir(p, mode&0o7777)
	}
	if err != nil {
		return "", fmt.Errorf("create ghost directory %s: %w", p, os.NewSyscallError("mkdir", err))
	}
	// mkdir applies the umask.
	if err := unix.Chmod(p, mode&0o7777); err != nil {
		os.Remove(p)
		return "", fmt.Errorf("ghost directory %s: %w", p, os.NewSyscallError("chmod", err))
	}
	return p, nil
}

// makeParents makes the missing directories above a ghost's path (the
// directory it was in was removed too) and returns them, deepest first,
// to be removed again with the ghost. Each is recorded in the tree's
// ghostParents too.
func (r *restorer) makeParents(name string) ([]string, error) {
	var missing []string
	for d := filepath.Dir(name); d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := unix.Mkdir(missing[i], 0o700); err != nil {
			removeAll(made)
			return nil, fmt.Errorf("ghost file %s: make the removed directory %s: %w", name, missing[i], os.NewSyscallError("mkdir", err))
		}
		made = append([]string{missing[i]}, made...)
	}
	r.t.ghostParents = append(r.t.ghostParents, made...)
	return made, nil
}

// removeAll removes the directories dirs, in order.
func removeAll(dirs []string) {
	for _, d := range dirs {
		os.Remove(d)
	}
}

func (r *restorer) removeGhosts() {
	done := map[string]bool{}
	for _, p := range r.ghosts {
		if !done[p] {
			os.Remove(p)
			done[p] = true
		}
	}
	// The directories made for them, deepest first.
	ps := r.t.ghostParents
	sort.Slice(ps, func(i, j int) bool { return len(ps[i]) > len(ps[j]) })
	removeAll(ps)
}

// filePath is where to open file id from: its name, or its ghost copy.
func (r *restorer) filePath(id uint32) (string, *images.RegFileEntry, error) {
	f := r.sn.files[id]
	if f == nil || f.GetReg() == nil {
		return "", nil, fmt.Errorf("%w: no regular file %d in files.img", ErrBadImage, id)
	}
	if g, ok := r.ghosts[id]; ok {
		return g, f.GetReg(), nil
	}
	return f.GetReg().GetName(), f.GetReg(), nil
}
