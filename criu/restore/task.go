package restore

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/task"
	"github.com/criugo/criu/criu/vdso"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

var atFdcwd = func() uint64 { v := int64(unix.AT_FDCWD); return uint64(v) }()

// restoreState restores what the task holds once its memory is in: its
// process-wide state, files, epoll targets and threads. It runs on the
// tracer thread (Restore).
func (r *restorer) restoreState() error {
	if err := r.finishMemory(); err != nil {
		return err
	}
	if err := r.restoreTask(); err != nil {
		return err
	}
	if err := r.restoreFiles(); err != nil {
		return err
	}
	if err := r.restoreEpolls(); err != nil {
		return err
	}
	return r.restoreThreads()
}

// restoreTask sets the process-wide state (task.RestoreProcess).
func (r *restorer) restoreTask() error {
	cwd, _, err := r.filePath(r.sn.fs.GetCwdId())
	if err != nil {
		return err
	}
	return task.RestoreProcess(r, r.pid, r.vpid, r.sn.cores[uint32(r.vpid)].GetTc(), r.sn.fs.GetUmask(), cwd, r.log)
}

// restoreFiles closes the stub's fds and opens the dumped ones.
func (r *restorer) restoreFiles() error {
	if r.sn.sharedFds {
		return nil // the parent's table, restored by the parent
	}
	want := map[int]bool{}
	// extSrc: the stdio fd that keeps the restorer's file for each
	// external file id, the lowest of 0-2 holding it.
	extSrc := map[uint32]int{}
	for _, fi := range r.sn.fdinfo {
		if fi.GetType() == images.FdTypes_EXT {
			if !r.opts.ShellJob {
				return fmt.Errorf("%w: fd %d was inherited from a shell: restore with --shell-job", ErrUnsupported, fi.GetFd())
			}
			if fd := int(fi.GetFd()); fd <= 2 {
				want[fd] = true
				if s, ok := extSrc[fi.GetId()]; !ok || fd < s {
					extSrc[fi.GetId()] = fd
				}
			}
		}
	}
	if err := r.closeInherited(want); err != nil {
		return err
	}
	for _, fi := range r.sn.fdinfo {
		fd := uint64(fi.GetFd())
		switch fi.GetType() {
		case images.FdTypes_EXT:
			if fd > 2 {
				// A dup of an inherited stdio fd.
				src, ok := extSrc[fi.GetId()]
				if !ok {
					return fmt.Errorf("%w: external fd %d is not a dup of fds 0-2", ErrBadImage, fd)
				}
				cloexec := uint64(0)
				if fi.GetFlags()&unix.FD_CLOEXEC != 0 {
					cloexec = unix.O_CLOEXEC
				}
				if _, err := r.sys("dup3", unix.SYS_DUP3, uint64(src), fd, cloexec); err != nil {
					return err
				}
				continue
			}
			if fi.GetFlags()&unix.FD_CLOEXEC != 0 {
				if _, err := r.sys("fcntl", unix.SYS_FCNTL, fd, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
					return err
				}
			}
			continue
		case images.FdTypes_REG:
			if _, ok := r.t.masters[fi.GetId()]; ok {
				if err := r.installShared(fi); err != nil {
					return err
				}
				continue
			}
		case images.FdTypes_PIDFD: // opened in the first task that has it
			if _, ok := r.t.masters[fi.GetId()]; !ok {
				m, err := anonfd.OpenPidfd(r, r.pid, r.sn.files[fi.GetId()].GetPidfd())
				if err != nil {
					return err
				}
				r.t.masters[fi.GetId()], r.t.masterFds = m, append(r.t.masterFds, m)
			}
			fallthrough
		default:
			if _, ok := r.t.masters[fi.GetId()]; ok {
				if err := r.installShared(fi); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("%w: fd %d of type %v", ErrUnsupported, fd, fi.GetType())
		}
		path, reg, err := r.filePath(fi.GetId())
		if err != nil {
			return err
		}
		p, err := r.cstring(0, path)
		if err != nil {
			return err
		}
		tmp, err := r.sys("openat "+path, unix.SYS_OPENAT, atFdcwd, p, uint64(files.OpenFlags(reg)), 0)
		if err != nil {
			return fmt.Errorf("restore fd %d: %w", fd, err)
		}
		if reg.GetPos() != 0 {
			if _, err := r.sys("lseek", unix.SYS_LSEEK, tmp, reg.GetPos(), 0); err != nil {
				return err
			}
		}
		cloexec := uint64(0)
		if fi.GetFlags()&unix.FD_CLOEXEC != 0 {
			cloexec = unix.O_CLOEXEC
		}
		if tmp != fd {
			if _, err := r.sys("dup3", unix.SYS_DUP3, tmp, fd, cloexec); err != nil {
				return err
			}
			r.sys("close", unix.SYS_CLOSE, tmp)
		} else if cloexec != 0 {
			if _, err := r.sys("fcntl", unix.SYS_FCNTL, fd, unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeInherited closes every fd the task holds that is not in want:
// the stub inherited criu's fds 0-2 and also every fd of criu's that
// is not close-on-exec (one the shell running criu left open, a
// harness's pipes), and a restored task must hold only the fds of its
// images. The fds of package handoff stay.
func (r *restorer) closeInherited(want map[int]bool) error {
	ents, err := os.ReadDir(procfs.Path(r.pid, "fd"))
	if err != nil {
		return fmt.Errorf("list fds of %d: %w", r.pid, err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || want[fd] || r.t.hand.Keeps(r.pid, uint64(fd)) {
			continue
		}
		if _, err := r.sys("close", unix.SYS_CLOSE, uint64(fd)); err != nil {
			return fmt.Errorf("close inherited fd %d: %w", fd, err)
		}
	}
	return nil
}

// restoreRoot changes the task's root to its dumped one (a task that
// had chroot()ed), once per fs (tasks and threads sharing it with
// CLONE_FS share the root). It runs after every file of the tree is
// open by its path from criu's root, before the creds are set (chroot
// needs CAP_SYS_CHROOT).
func (r *restorer) restoreRoot() error {
	id := r.sn.ids.GetFsId()
	if r.t.rootDone[id] {
		return nil
	}
	r.t.rootDone[id] = true
	root, _, err := r.filePath(r.sn.fs.GetRootId())
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if root == "/" {
		return nil
	}
	if _, ok := r.ghosts.Of(r.sn.fs.GetRootId()); ok {
		root = "." // removed, it is the cwd (files.FsDir)
	}
	p, err := r.cstring(0, root)
	if err != nil {
		return err
	}
	if _, err := r.sys("chroot "+root, unix.SYS_CHROOT, p); err != nil {
		return fmt.Errorf("restore root: %w", err)
	}
	return nil
}

// restoreThreads clones every other thread with its tid. Threads whose
// seccomp filters begin with the leader's are cloned once the leader has
// that many of its filters, so that they inherit them, shared as they
// were (seccomp.Plan).
func (r *restorer) restoreThreads() error {
	var err error
	if r.seccomp, err = r.prepareSeccomp(); err != nil {
		return err
	}
	for _, tid := range r.seccomp.CloneOrder(r.sn.pst.GetThreads()[1:]) {
		if err := r.seccomp.LeaderUpTo(r.seccomp.Shared(tid)); err != nil {
			return err
		}
		flags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM)
		if err := r.writeScratch(0, linux.Clone3Args(linux.CloneArgs{Flags: flags}, r.scr, int(tid))); err != nil {
			return err
		}
		r.in.Cloned = r.in.Cloned[:0]
		got, err := r.sys("clone3(thread)", unix.SYS_CLONE3, r.scr, linux.CloneArgsSize)
		if err != nil {
			if err, ok := err.(*ptrace.SyscallError); ok && err.Err == unix.EEXIST {
				return fmt.Errorf("thread %d: %w", tid, ErrPidTaken)
			}
			return err
		}
		if int(got) != int(tid) {
			return fmt.Errorf("clone3 gave tid %d, want %d", got, tid)
		}
		// clone3 returns the tid in the task's namespace; the clone
		// event, the host's.
		htid := int(tid)
		if r.t.pidns() {
			if len(r.in.Cloned) == 0 {
				return fmt.Errorf("clone3 of thread %d: no clone event", tid)
			}
			htid = r.in.Cloned[len(r.in.Cloned)-1]
		}
		r.tids = append(r.tids, htid)
		r.vtids = append(r.vtids, int(tid))
		if _, err := r.tr.WaitStop(htid); err != nil {
			return err
		}
	}
	return nil
}

// finish sets each thread's own state and registers, then lets them go.
func (r *restorer) finish() error {
	if err := r.restoreFowns(); err != nil {
		return err
	}
	if err := r.restoreRoot(); err != nil {
		return err
	}
	var ready []task.Ready
	if err := task.RestorePosixTimers(r, r.sn.cores[uint32(r.vpid)].GetTc()); err != nil {
		return err
	}
	sc := r.seccomp
	for i, tid := range r.tids {
		rd, err := task.RestoreThread(r, r.tr, r.in.IP, sc, r.pid, r.vpid, tid, r.vtids[i], tid == r.pid, r.sn.cores[uint32(r.vtids[i])], r.sn.cores[uint32(r.vpid)])
		if err != nil {
			return err
		}
		ready = append(ready, rd)
	}
	// After every thread's creds: changing ids resets dumpable.
	if err := task.SetProcessMisc(r, r.sn.mm); err != nil {
		return err
	}
	if err := sc.Release(); err != nil {
		return err
	}
	if _, err := r.sys("munmap", unix.SYS_MUNMAP, r.scr, scratchSize); err != nil {
		return err
	}
	if err := vdso.Drop(memTask{r}, r.pid, r.sn.mm.GetVmas()); err != nil {
		return err
	}
	return task.SetReady(r.tr, ready)
}

// detach lets every thread of the task run. A task that was stopped
// (TASK_STOPPED) is sent its stop signal first, as CRIU does: it stops
// again as soon as it runs, before any of its code.
func (r *restorer) detach() error {
	if err := task.Restop(r.pid, r.vpid, r.sn.cores[uint32(r.vpid)].GetTc()); err != nil {
		return err
	}
	for _, tid := range r.tids {
		// Created on the tracer's CPU (ptrace.Tracer.PinCPU), it runs
		// with criu's CPU mask, as it would have had without the pin.
		if err := r.tr.Unpin(tid); err != nil {
			return err
		}
		if err := r.tr.Detach(tid, 0); err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}
