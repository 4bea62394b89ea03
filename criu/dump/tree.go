package dump

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/cgroup"
	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/freeze"
	"github.com/criugo/criu/criu/fsnotify"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/ipcns"
	"github.com/criugo/criu/criu/locks"
	"github.com/criugo/criu/criu/mm"
	"github.com/criugo/criu/criu/netlock"
	"github.com/criugo/criu/criu/pipes"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/pstree"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/criu/shmem"
	"github.com/criugo/criu/criu/sockets"
	"github.com/criugo/criu/criu/task"
	"github.com/criugo/criu/criu/treens"
	"github.com/criugo/criu/criu/tty"
	"github.com/criugo/criu/criu/tun"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// tree is the process tree being dumped: every task below the root,
// zombies included, parents before their children.
type tree struct {
	opts  Options
	store image.Store
	tr    *ptrace.Tracer
	files *fileSet
	tasks []*dumper
	byPid map[int]*dumper
	stats Stats
	inv   *images.InventoryEntry // writeShared's, written last
	// nextPages numbers pages-N.img, one per live task.
	nextPages uint32
	// sockets are the sockets of the tree (package sockets).
	sockets *sockets.Set
	// tuns are the tun/tap devices the tree's files are attached to,
	// by name (package tun), for the network namespace's dump.
	tuns map[string]*tun.Device
	// pipes are the pipes and fifos the tree's fds lead to.
	pipes *pipes.Set
	// mm: the memory of the tasks (package mm), with its incremental
	// tracking.
	mm *mm.Tree
	// locks are the file locks of every task (package locks).
	locks locks.Set
	// inotify: the inotify watches of every task (package fsnotify).
	inotify fsnotify.Set
	// ttys are the terminals of every task (package tty).
	ttys *tty.Set
	// sysv are the System V shared memory segments attached by tasks
	// (ipcns.Attached).
	sysv ipcns.Attached
	// shmem are the shared anonymous memory objects mapped by tasks,
	// saved once each (package shmem).
	shmem shmem.Set
	// memfds are the memfd inodes of the tree (package shmem).
	memfds shmem.Memfds
	// ns: the tree's namespaces (ns.go), set once it is frozen.
	ns *treens.Set
	// seccomp: the filters of every thread, for seccomp.img.
	seccomp seccomp.Table
	// runID is the dump's id (inventory dump_criu_run_id), which also
	// names its network lock (netlock.go).
	runID   string
	netlock *netlock.Lock
	// cg: the tasks' cgroup sets (cgroup.go), nil until the first task
	// is dumped and with --manage-cgroups ignore; cgNew is the one
	// made before the freeze (newCgroups) that cg becomes then.
	cg, cgNew *cgroup.Dumper
}

func newTree(s image.Store, opts Options) *tree {
	t := &tree{
		opts: opts, store: s, tr: ptrace.NewTracer(), files: newFileSet(firstFile),
		byPid: map[int]*dumper{}, pipes: pipes.NewSet(), mm: mm.NewTree(s, opts.Log), runID: uuid.NewString(),
	}
	t.files.regs.LinkRemap = opts.LinkRemap
	t.files.regs.TreePid = func(pid int) (int, bool) { return t.InnerOwner(files.OwnerTid, pid) }
	if opts.GhostLimit != nil {
		t.files.regs.GhostLimit = *opts.GhostLimit
	}
	t.sockets = newSockets(t)
	t.ttys = newTTYSet(t)
	return t
}

func (t *tree) add(pid, ppid int) *dumper {
	d := &dumper{opts: t.opts, t: t, pid: pid, ppid: ppid, store: t.store, tr: t.tr, files: t.files}
	t.tasks = append(t.tasks, d)
	t.byPid[pid] = d
	return d
}

// freeze seizes the root and then, breadth first, every descendant. A
// task's children are listed once it is stopped: a stopped task forks no
// more. A child that exits before it is seized is recorded as a zombie.
func (t *tree) freeze() error {
	t.add(t.opts.Pid, 0)
	for i := 0; i < len(t.tasks); i++ {
		d := t.tasks[i]
		st, err := procfs.ReadStat(d.pid)
		if err != nil {
			return fmt.Errorf("task %d: %w", d.pid, err)
		}
		if err := task.RefuseTraced(d.pid); err != nil {
			return fmt.Errorf("dump %d: %w", d.pid, err)
		}
		if st.State != 'Z' {
			d.threads, err = freeze.Threads(t.tr, d.pid)
			if err != nil && errors.Is(err, ptrace.ErrExited) && d.ppid != 0 {
				st, err = procfs.ReadStat(d.pid)
				if err == nil && st.State != 'Z' {
					err = fmt.Errorf("task %d exited while being seized", d.pid)
				}
			}
			if err != nil {
				return err
			}
			if err := suspendSeccomp(t.tr, d.pid, d.threads); err != nil {
				return fmt.Errorf("task %d: %w", d.pid, err)
			}
			if err := refusePendingTrap(d.pid, d.threads); err != nil {
				return fmt.Errorf("dump %d: %w", d.pid, err)
			}
		}
		if st.State == 'Z' {
			// A zombie: only its exit status and ids are kept.
			if len(d.threads) > 0 {
				return fmt.Errorf("task %d died while being seized", d.pid)
			}
			if err := task.RefuseDeadLeader(d.pid); err != nil {
				return fmt.Errorf("dump %d: %w", d.pid, err)
			}
			d.zombie = true
			d.stat = st
			continue
		}
		if d.stat, err = procfs.ReadStat(d.pid); err != nil {
			return err
		}
		kids, err := procfs.Children(d.pid)
		if err != nil {
			return fmt.Errorf("list children of %d: %w", d.pid, err)
		}
		for _, k := range kids {
			if t.byPid[k] == nil {
				t.add(k, d.pid)
			}
		}
	}
	return nil
}

// thaw lets every seized task go as it was.
func (t *tree) thaw() error {
	var errs []error
	for _, d := range t.tasks {
		if err := freeze.Thaw(t.tr, d.threads); err != nil {
			errs = append(errs, fmt.Errorf("task %d: %w", d.pid, err))
		}
	}
	return errors.Join(errs...)
}

// kill kills every live task, children first (ptrace.Tracer.KillAll:
// every SIGKILL is sent before the first task is reaped).
func (t *tree) kill() error {
	var tasks []ptrace.Task
	for i := len(t.tasks) - 1; i >= 0; i-- {
		d := t.tasks[i]
		if d.zombie || len(d.threads) == 0 {
			continue
		}
		var tids []int
		for _, th := range d.threads {
			tids = append(tids, th.Tid)
		}
		tasks = append(tasks, ptrace.Task{Pid: d.pid, Tids: tids})
	}
	return t.tr.KillAll(tasks)
}

// checkShared gives each task its kernel object ids, sharing the ids of a
// files table or fs struct it shares with a task before it (CLONE_FILES,
// CLONE_FS), and refuses what restore cannot rebuild.
func (t *tree) checkShared() error {
	root := t.tasks[0]
	if err := pstree.CheckSessions(t.pstree()); err != nil {
		return fmt.Errorf("dump %d: %w", root.pid, err)
	}
	root.ids = &images.TaskKobjIdsEntry{VmId: proto.Uint32(vmID), FilesId: proto.Uint32(filesID), FsId: proto.Uint32(fsID), SighandId: proto.Uint32(sighandID)}
	root.ownFds, root.ownFs = true, true
	root.pagesID = 1
	t.nextPages = 2
	for _, d := range t.tasks[1:] {
		if d.zombie {
			continue
		}
		d.pagesID = t.nextPages
		t.nextPages++
		d.ids = &images.TaskKobjIdsEntry{VmId: proto.Uint32(t.files.id()), SighandId: proto.Uint32(t.files.id())}
		d.ownFds, d.ownFs = true, true
		// The parent first: a table shared down a line of tasks
		// (CLONE_FILES twice) is its parent's for each of them, and
		// restore clones each from its parent with it.
		if p := t.byPid[d.ppid]; p != nil && !p.zombie {
			if same, err := linux.Kcmp(d.pid, p.pid, linux.KCMP_FILES, 0, 0); err != nil {
				return err
			} else if same {
				d.ids.FilesId = proto.Uint32(p.ids.GetFilesId())
				d.ownFds = false
			}
			if same, err := linux.Kcmp(d.pid, p.pid, linux.KCMP_FS, 0, 0); err != nil {
				return err
			} else if same {
				d.ids.FsId = proto.Uint32(p.ids.GetFsId())
				d.ownFs = false
			}
		}
		for _, o := range t.tasks {
			if o == d {
				break
			}
			if o.zombie {
				continue
			}
			if same, err := linux.Kcmp(d.pid, o.pid, linux.KCMP_VM, 0, 0); err != nil {
				return err
			} else if same {
				return fmt.Errorf("dump %d: %w: shares its memory with %d (CLONE_VM without CLONE_THREAD, vfork)", d.pid, ErrUnsupported, o.pid)
			}
			if d.ownFds {
				if same, err := linux.Kcmp(d.pid, o.pid, linux.KCMP_FILES, 0, 0); err != nil {
					return err
				} else if same {
					return fmt.Errorf("dump %d: %w: shares its fd table with %d, not with its parent (CLONE_FILES, and the parent unshared or exited)", d.pid, ErrUnsupported, o.pid)
				}
			}
			if d.ownFs {
				if same, err := linux.Kcmp(d.pid, o.pid, linux.KCMP_FS, 0, 0); err != nil {
					return err
				} else if same {
					return fmt.Errorf("dump %d: %w: shares its fs (cwd, root, umask) with %d, not with its parent (CLONE_FS, and the parent unshared or exited)", d.pid, ErrUnsupported, o.pid)
				}
			}
		}
		if d.ownFds {
			d.ids.FilesId = proto.Uint32(t.files.id())
		}
		if d.ownFs {
			d.ids.FsId = proto.Uint32(t.files.id())
		}
	}
	return nil
}

// pstree is the tree as package pstree takes it, ids inside the tree's
// pid namespace.
func (t *tree) pstree() []pstree.Task {
	out := make([]pstree.Task, 0, len(t.tasks))
	for _, d := range t.tasks {
		e := pstree.Task{Pid: d.vpid, Pgid: d.vpgid, Sid: d.vsid, Zombie: d.zombie,
			ExitCode: uint32(d.stat.ExitCode), Flags: uint32(d.stat.Flags), Comm: d.stat.Comm}
		if p := t.byPid[d.ppid]; p != nil {
			e.Ppid = p.vpid
		}
		for _, th := range d.threads {
			e.Threads = append(e.Threads, th.Vtid)
		}
		out = append(out, e)
	}
	return out
}

// writeShared writes the images that hold the whole tree: pstree, the
// zombies' cores, files, the shared objects, ghosts, inventory.
func (t *tree) writeShared(ctx context.Context) error {
	root := t.tasks[0]
	if err := pstree.Write(ctx, t.store, t.pstree()); err != nil {
		return err
	}
	if err := t.seccomp.Write(ctx, t.store); err != nil {
		return err
	}
	if err := t.writeObjects(ctx); err != nil {
		return err
	}
	if err := root.writeGhosts(ctx); err != nil {
		return err
	}
	if err := t.locks.Write(ctx, t.store); err != nil {
		return err
	}
	if err := t.ttys.Write(ctx, t.store); err != nil {
		return err
	}
	// The segments of an ipc namespace of the tree's own are the ipc
	// namespace's images; attached host segments are written here.
	if t.ns.Mask&unix.CLONE_NEWIPC == 0 {
		if err := t.sysv.Write(ctx, t.store); err != nil {
			return err
		}
	}
	if err := t.memfds.Write(ctx, t.store); err != nil {
		return err
	}
	shp, err := t.shmem.Write(ctx, t.store, func() uint32 { t.nextPages++; return t.nextPages - 1 })
	if err != nil {
		return err
	}
	t.stats.ShpagesWritten = shp
	var fm []proto.Message
	for _, e := range append(t.files.entries, t.files.regs.Linked()...) {
		fm = append(fm, files.ForImage(e, t.ns != nil && t.ns.Mask&unix.CLONE_NEWNS != 0))
	}
	if err := image.WriteImage(ctx, t.store, "files.img", fm...); err != nil {
		return err
	}
	if err := t.files.regs.WriteRemaps(ctx, t.store); err != nil {
		return err
	}
	// root_ids are criu's own ids, as CRIU writes them: restore tells
	// the namespaces to create by comparing the root's with them.
	criuIDs := &images.TaskKobjIdsEntry{VmId: proto.Uint32(t.files.id()), FilesId: proto.Uint32(t.files.id()),
		FsId: proto.Uint32(t.files.id()), SighandId: proto.Uint32(t.files.id())}
	t.ns.SetIDs(criuIDs, true)
	inv := &images.InventoryEntry{
		ImgVersion: proto.Uint32(2), FdinfoPerId: proto.Bool(true), RootIds: criuIDs,
		NsPerId: proto.Bool(true), Lsmtype: images.Lsmtype_NO_LSM.Enum(),
		// A fresh id per dump, as CRIU writes, so that tools can tell
		// two dumps of the same tree apart.
		DumpCriuRunId: proto.String(t.runID),
	}
	if t.cg != nil {
		inv.RootCgSet = proto.Uint32(cgroup.CriuSet)
		if err := t.cg.Write(ctx, t.store); err != nil {
			return err
		}
	}
	if t.netlock != nil {
		inv.NetworkLockMethod = proto.Uint32(t.netlock.Method().Inventory())
	}
	up, err := task.Uptime()
	if err != nil {
		return err
	}
	inv.DumpUptime = proto.Uint64(up)
	t.inv = inv // written last, once every page is in (Dump)
	return nil
}
