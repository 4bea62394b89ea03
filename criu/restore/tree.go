package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/cgroup"
	"github.com/criugo/criu/criu/cleanup"
	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/fsnotify"
	"github.com/criugo/criu/criu/handoff"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/ipcns"
	"github.com/criugo/criu/criu/locks"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mntns"
	"github.com/criugo/criu/criu/netlock"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/pstree"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/shmem"
	"github.com/criugo/criu/criu/sockets"
	"github.com/criugo/criu/criu/task"
	"github.com/criugo/criu/criu/timens"
	"github.com/criugo/criu/criu/tty"
	"github.com/criugo/criu/criu/tun"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// node is one task of the tree being restored.
type node struct {
	sn     *snapshot
	r      *restorer // set once the task exists
	parent *node
	kids   []*node
	// pid is the task's pid in the images: inside the tree's pid
	// namespace when it has one (ns.go). Its host pid is r.pid.
	pid int
	// helper: a task that is not in the images, created to give a
	// process group its id (its leader had exited); it exits before
	// the tree resumes.
	helper  bool
	deadPid bool // a helper for an exited task's /proc files (deadpid.go)
	// curSid, curPgid: what the task has now, as the tree is built.
	curSid, curPgid int
}

func (n *node) sid() int  { return int(n.sn.pst.GetSid()) }
func (n *node) pgid() int { return int(n.sn.pst.GetPgid()) }

// treeRestorer rebuilds a process tree: every task is created first
// (forked by its parent with its pid, sessions and groups set on the
// way), then each one's own state is restored, then all resume at once.
type treeRestorer struct {
	extNet int // the external network namespace to join (netns.External), or -1
	opts   Options
	log    zerolog.Logger
	store  image.Store
	ti     *treeImages
	tr     *ptrace.Tracer
	nodes  []*node // parents before children
	byPid  map[int]*node
	ghosts *files.Ghosts
	// created lists the tasks in creation order, for the undo.
	created []*node
	// masters are file descriptions the restorer creates in its own
	// process and hands to tasks with pidfd_getfd, by file id.
	masters map[uint32]int
	// tun opens the tree's tun files (openTun).
	tun *tun.Opener
	// epollDone: epoll files whose targets are added (anon.go).
	epollDone map[uint32]bool
	// hand: the restorer's pidfd in each task, the anchor of the
	// host's /proc in a container's (package handoff).
	hand *handoff.Handoff
	// shmem: the memfd inodes and shared anonymous memory objects made
	// in the restorer (package shmem); memfds sealed once every task is
	// restored.
	shmem *shmem.Objects
	inet  *sockets.InetRestorer // TCP connections in repair mode until the tasks run
	// memTime is the time create spent restoring memory, which is not
	// forking.
	memTime time.Duration
	// masterFds are every fd the restorer opened for the masters.
	masterFds []int
	// ttys: the terminals opened in the restorer and the controlling
	// terminals of the tree's sessions (package tty; tty.go).
	ttys *tty.Terminals
	// outSid, outPgid: with ShellJob, the restorer's session and group,
	// which took the place of the shell's in the pstree (shelljob.go);
	// tasks join them without a helper. Zero when unused.
	outSid, outPgid int
	// mask: CLONE_NEW* flags of the namespaces the root is created in
	// (ns.go); net is the network namespace among them, once created.
	mask uint64
	net  *netns.Namespace
	// clocks: of the tree's time namespace, made anew by fork (nil: none).
	clocks *timens.Offsets
	cg     *cgroup.Restorer // moves each task into its cgroups (create)
	// ipc: what is left of the ipc namespace's restore (nil without one).
	ipc *ipcns.Restored
	// mnt: the mount namespace to make (nil: a copy of ours).
	mnt     *mntns.Layout
	mntCopy *mntns.Copy // a copy of criu's mount namespace to make different (nil: none)
	// inheritUsed: the keys of Options.InheritFd that a file had.
	inheritUsed map[string]bool
	// rootDone: fs ids whose root is restored (restoreRoot).
	rootDone map[uint32]bool
	// sessions: how each task gets its session (pstree.PlanSessions).
	sessions pstree.Sessions
}

// Restore rebuilds the process tree described by the images in s. On
// success every task runs (detached from ptrace); the caller Waits for
// the root or Releases it. On failure every task it created is killed.
func Restore(ctx context.Context, s image.Store, opts Options) (*Task, error) {
	t0 := time.Now()
	if err := opts.notify(ctx, "pre-restore", 0); err != nil {
		return nil, err
	}
	ti, err := readTree(ctx, s)
	if err != nil {
		return nil, err
	}
	t := &treeRestorer{opts: opts, extNet: -1, log: opts.Log, store: s, ti: ti, byPid: map[int]*node{},
		ghosts: files.NewGhosts(), masters: map[uint32]int{}, epollDone: map[uint32]bool{},
		rootDone: map[uint32]bool{}, shmem: shmem.NewObjects(s, ti.memfds),
		inet: sockets.NewInetRestorer(s, sockets.TCPOptions{Established: opts.TCPEstablished, Close: opts.TCPClose})}
	if err := t.build(); err != nil {
		return nil, err
	}
	if err := locks.Check(t.ti.locks, t.opts.FileLocks, t.lockFd); err != nil {
		return nil, err
	}
	if t.mask, err = t.nsMask(); err != nil {
		return nil, err
	}
	if t.extNet, err = netns.External(ctx, t.store, t.mask&unix.CLONE_NEWNET != 0, t.nodes[0].sn.ids.GetNetNsId(), t.inheritedFd); err != nil {
		return nil, err
	}
	if t.mnt, err = mntns.Load(ctx, t.store, t.mask&unix.CLONE_NEWNS != 0, t.nodes[0].sn.ids.GetMntNsId(), opts.Mounts, t.log); err != nil {
		return nil, err
	}
	if t.mntCopy, err = mntns.LoadCopy(ctx, t.store, t.mnt == nil && t.mask&unix.CLONE_NEWNS != 0, t.nodes[0].sn.ids.GetMntNsId(), t.log); err != nil {
		return nil, err
	}
	if t.clocks, err = timens.Load(ctx, t.store, t.mask&unix.CLONE_NEWTIME != 0, t.nodes[0].sn.ids); err != nil {
		return nil, err
	}
	if err := t.shellJob(); err != nil {
		return nil, err
	}
	if t.sessions, err = pstree.PlanSessions(t.shape()); err != nil {
		return nil, fmt.Errorf("restore %d: %w", t.nodes[0].pid, err)
	}
	if t.cg, err = cgroup.Prepare(ctx, t.store, opts.Cgroup, t.ti.inv.GetRootCgSet(), t.log); err != nil {
		return nil, err
	}
	root := t.nodes[0]
	for _, n := range t.nodes {
		if t.pidns() {
			break // pids of a fresh pid namespace
		}
		for _, tid := range n.sn.pst.GetThreads() {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", tid)); err == nil {
				return nil, fmt.Errorf("restore %d: %w: tid %d exists", root.pid, ErrPidTaken, tid)
			}
		}
	}
	var undo cleanup.Cleanup
	defer undo.Run()
	t.tr = ptrace.NewTracer()
	undo.Add(func() { t.tr.Close() })
	// The tasks are created on the tracer's CPU, and each task's
	// threads get criu's CPU mask back when it is let go (detach).
	if err := t.tr.PinCPU(); err != nil {
		t.log.Debug().Err(err).Msg("tracer not pinned to a CPU")
	}
	// Orphans of a failed restore come to us to be reaped.
	setSub := !isSubreaper()
	if setSub {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	}
	defer t.closeMasters()
	defer func() {
		if t.net != nil {
			t.net.Close()
		}
	}()

	root.r = t.newRestorer(root)
	if t.mnt == nil { // a container's are made on its mounts, below
		if err := t.makeRemaps(ctx, &undo); err != nil {
			return nil, err
		}
	} else if _, ok := root.sn.remaps[root.sn.mm.GetExeFileId()]; ok {
		return nil, fmt.Errorf("%w: the executable of the container's root task %d was deleted", ErrUnsupported, root.pid)
	}
	undo.Add(t.killAll)
	if err := root.r.fork(); err != nil {
		return nil, err
	}
	t.created = append(t.created, root)
	t.hand = handoff.New(t.pidns())
	defer t.hand.Close()
	if t.mnt != nil || t.pidns() {
		// Before its mounts: the host's /proc, for every task.
		if err := t.hand.Anchor(handTask{root.r}, t.maxFd()+1); err != nil {
			return nil, err
		}
	}
	if !t.pidns() {
		root.curSid, _ = unix.Getsid(0)
		root.curPgid = unix.Getpgrp()
	} // else the restorer's session and group are outside: 0 inside
	if t.mnt == nil {
		if err := t.openTTYs(ctx); err != nil {
			return nil, err
		}
	}
	// The objects tasks map (shared memory, memfds, System V segments)
	// and the namespaces exist before any task's memory is restored;
	// each task's memory is restored before its children are forked
	// (create), so that they inherit it (package mm).
	if err := t.restoreNamespaces(ctx); err != nil {
		return nil, err
	}
	if t.mnt != nil {
		// Removed on failure before the root is killed (undo's order).
		t.ghosts.Root = t.mnt.Prefix(root.r.pid)
		if err := t.makeRemaps(ctx, &undo); err != nil {
			return nil, err
		}
		if err := t.openTTYs(ctx); err != nil { // on its devpts
			return nil, err
		}
	}
	// As CRIU's, only a tree with namespaces of its own gets these two.
	for _, step := range []string{"setup-namespaces", "post-setup-namespaces"} {
		if t.mask == 0 {
			break
		}
		if err := opts.notify(ctx, step, root.r.pid); err != nil {
			return nil, err
		}
	}
	connLock, err := t.lockConns(ctx)
	if err != nil {
		return nil, err
	}
	defer connLock.Unlock(context.WithoutCancel(ctx)) // once the tasks run, or the restore failed
	// Before any file is opened, shared ones (openMasters) first.
	if err := t.makeDeadPids(); err != nil {
		return nil, err
	}
	if err := t.netDo(func() error { return t.openMasters(ctx) }); err != nil {
		return nil, err
	}
	sysvDest, err := ipcns.MakeAttached(t.ti.sysv, &undo)
	if err != nil {
		return nil, err
	}
	// The tasks' steps, each tens of injected syscalls, run on the
	// tracer thread (ptrace.Tracer.Do): no thread hand-off per request.
	// Nothing in them waits for a goroutine that uses the tracer.
	if err := t.tr.Do(func() error { return t.create(ctx, root) }); err != nil {
		return nil, err
	}
	if err := t.checkSessions(); err != nil {
		return nil, err
	}
	if err := t.setGroups(); err != nil {
		return nil, err
	}
	if err := t.setForeground(); err != nil {
		return nil, err
	}
	if err := t.finishDead(false); err != nil {
		return nil, err
	}
	root.r.stats.Forking = time.Since(t0) - t.memTime
	var stats Stats
	for _, n := range t.live() {
		r := n.r
		if err := t.tr.Do(r.restoreState); err != nil {
			return nil, fmt.Errorf("task %d: %w", n.pid, err)
		}
		stats.PagesRestored += r.stats.PagesRestored
		stats.PagesSkippedCow += r.stats.PagesSkippedCow
		stats.PagesCompared += r.stats.PagesCompared
	}
	if err := t.finishDead(true); err != nil {
		return nil, err
	}
	if err := anonfd.Unfilled(t.ti.files, t.masters, t.epollDone); err != nil {
		return nil, err
	}
	if err := t.shmem.Seal(); err != nil {
		return nil, err
	}
	if err := t.restoreLocks(); err != nil {
		return nil, err
	}
	// Every file is open: the ghosts go, and the events their making,
	// opening and removal queued on inotify watches with them.
	r := root.r
	if err := t.mnt.Writable(r.pid, r.sys, r.scr, files.RemapPaths(t.ti.files, t.ti.remaps, t.ti.linked), func() error { t.ghosts.Remove(); return nil }); err != nil {
		return nil, err
	}
	if err := fsnotify.DrainFiles(t.masters, t.ti.files); err != nil { // queued while restored
		return nil, err
	}
	if err := ipcns.RemoveAttached(sysvDest); err != nil {
		return nil, err
	}
	if err := t.ipc.Finish(); err != nil {
		return nil, err
	}
	for _, n := range t.live() {
		err := t.tr.Do(func() error {
			if err := t.hand.Release(handTask{n.r}, n.sn.sharedFds); err != nil {
				return err
			}
			return n.r.finish()
		})
		if err != nil {
			return nil, fmt.Errorf("task %d: %w", n.pid, err)
		}
	}
	t.takeTerminal()
	if err := t.restoreFirewall(ctx); err != nil {
		return nil, err
	}
	if err := t.inet.Resume(); err != nil {
		return nil, err
	}
	for _, step := range []string{"post-restore", "network-unlock", "pre-resume"} {
		if step == "network-unlock" && t.mask&unix.CLONE_NEWNET == 0 {
			continue
		}
		if err := opts.notify(ctx, step, root.r.pid); err != nil {
			return nil, err
		}
	}
	for _, n := range t.live() {
		if err := t.tr.Do(n.r.detach); err != nil {
			return nil, fmt.Errorf("task %d: %w", n.pid, err)
		}
	}
	netlock.AfterRestore(ctx, t.ti.inv, t.tcpConns(), root.r.pid, t.log) // the tasks run: their connections may talk
	t.warnUnusedInherit()
	undo.Release()
	if err := opts.notify(ctx, "post-resume", 0); err != nil {
		t.log.Warn().Err(err).Msg("the tree runs on")
	}
	stats.Forking = root.r.stats.Forking
	stats.Restore = time.Since(t0)
	st := &images.StatsEntry{Restore: &images.RestoreStatsEntry{
		PagesCompared: proto.Uint64(stats.PagesCompared), PagesSkippedCow: proto.Uint64(stats.PagesSkippedCow),
		ForkingTime: proto.Uint32(uint32(stats.Forking.Microseconds())), RestoreTime: proto.Uint32(uint32(stats.Restore.Microseconds())),
		PagesRestored: proto.Uint64(stats.PagesRestored),
	}}
	if err := image.WriteImage(ctx, s, "stats-restore", st); err != nil {
		t.log.Warn().Err(err).Msg("write stats-restore")
	}
	t.log.Info().Int("pid", root.pid).Int("tasks", len(t.nodes)).Dur("restore", stats.Restore).Uint64("pages", stats.PagesRestored).Msg("restored")
	return &Task{Pid: root.r.pid, Stats: stats, tr: t.tr}, nil
}

func isSubreaper() bool {
	v, err := linux.PrctlGetChildSubreaper()
	return err == nil && v
}

// makeRemaps makes the files deleted while open reachable for the tasks
// to open: ghost copies, and links back (package files); on a read-only
// mount of the tree's, while it is writable (mntns.Layout.Writable).
func (t *treeRestorer) makeRemaps(ctx context.Context, undo *cleanup.Cleanup) error {
	r := t.nodes[0].r
	return t.mnt.Writable(r.pid, r.sys, 0, files.RemapPaths(t.ti.files, t.ti.remaps, t.ti.linked), func() error {
		if err := t.ghosts.Make(ctx, t.store, t.ti.files, t.ti.remaps, undo); err != nil {
			return err
		}
		return t.ghosts.Link(t.ti.files, t.ti.linked, undo)
	})
}

// live are the nodes of tasks that run on: neither zombies nor helpers.
func (t *treeRestorer) live() []*node {
	return slices.DeleteFunc(slices.Clone(t.nodes), func(n *node) bool { return n.helper || n.sn.zombie() })
}

// maxFd is the highest fd number of the tree's images (2 at least).
func (t *treeRestorer) maxFd() uint64 {
	m := uint64(2)
	for _, n := range t.nodes {
		for _, fi := range n.sn.fdinfo {
			m = max(m, uint64(fi.GetFd()))
		}
	}
	return m
}

// newRestorer makes the restorer of n's task, which does not exist yet.
func (t *treeRestorer) newRestorer(n *node) *restorer {
	return &restorer{opts: t.opts, log: t.log.With().Int("pid", n.pid).Logger(), store: t.store, sn: n.sn, tr: t.tr,
		vpid: n.pid, ghosts: t.ghosts, t: t}
}

// build links the pstree entries into a tree.
func (t *treeRestorer) build() error {
	for i, sn := range t.ti.tasks {
		n := &node{sn: sn, pid: int(sn.pst.GetPid())}
		if t.byPid[n.pid] != nil {
			return fmt.Errorf("%w: pid %d twice in pstree", ErrBadImage, n.pid)
		}
		t.byPid[n.pid] = n
		t.nodes = append(t.nodes, n)
		if i == 0 {
			if sn.zombie() {
				return fmt.Errorf("%w: the root task %d is dead", ErrBadImage, n.pid)
			}
			continue
		}
		p := t.byPid[int(sn.pst.GetPpid())]
		if p == nil {
			return fmt.Errorf("%w: parent %d of %d is not before it in pstree", ErrBadImage, sn.pst.GetPpid(), n.pid)
		}
		if p.sn.zombie() {
			return fmt.Errorf("%w: zombie %d has children", ErrBadImage, p.pid)
		}
		n.parent = p
		p.kids = append(p.kids, n)
	}
	return nil
}

// shape is the tree as package pstree takes it.
func (t *treeRestorer) shape() []pstree.Task {
	out := make([]pstree.Task, 0, len(t.nodes))
	for _, n := range t.nodes {
		out = append(out, pstree.Task{Pid: n.pid, Ppid: int(n.sn.pst.GetPpid()), Pgid: n.pgid(), Sid: n.sid(), Zombie: n.sn.zombie()})
	}
	return out
}

// stackScratch is an address for syscall arguments: in the task's
// scratch area once its memory is restored (the stub's stack is gone
// then), before that in its stub stack, below its stack pointer.
func stackScratch(r *restorer) uint64 {
	if r.scr != 0 {
		return r.scr
	}
	return (r.in.Base.Rsp - 8192) &^ 15
}

// forkChild makes the task k a child of n with pid (as seen in n's pid
// namespace), with clone3 run inside n, that sends sig (SIGCHLD, or 0)
// to n when it dies; with sibling, a child of n's parent (CLONE_PARENT:
// k's session is n's, pstree.Via), sending none. k shares n's fd table
// or fs when the images say so.
func (t *treeRestorer) forkChild(n *node, pid int, k *node, sibling bool, sig uint64) (*restorer, error) {
	r := n.r
	if err := t.tr.SetOptions(r.pid, ptrace.OptTraceClone|ptrace.OptExitKill|unix.PTRACE_O_TRACEFORK); err != nil {
		return nil, err
	}
	var flags uint64
	if k != nil && k.sn.ids != nil && n.sn.ids != nil {
		if k.sn.ids.GetFilesId() == n.sn.ids.GetFilesId() {
			flags |= unix.CLONE_FILES
		}
		if k.sn.ids.GetFsId() == n.sn.ids.GetFsId() {
			flags |= unix.CLONE_FS
		}
	}
	if k != nil && k.sn.ids != nil && k.parent != n && (k.sn.ids.GetFilesId() == k.parent.sn.ids.GetFilesId() && flags&unix.CLONE_FILES == 0 ||
		k.sn.ids.GetFsId() == k.parent.sn.ids.GetFsId() && flags&unix.CLONE_FS == 0) {
		return nil, fmt.Errorf("%w: task %d shares its fd table or fs with its parent %d, but is forked by %d, in its session, which does not", ErrUnsupported, k.pid, k.parent.pid, n.pid)
	}
	if sibling {
		flags |= unix.CLONE_PARENT
		sig = 0 // clone3 wants none with CLONE_PARENT: the child has its caller's
	}
	args := stackScratch(r)
	b := linux.Clone3Args(linux.CloneArgs{Flags: flags, ExitSignal: sig}, args, pid)
	if err := mem.WriteRemote(r.pid, []mem.Range{{Start: args, End: args + uint64(len(b))}}, b); err != nil {
		return nil, err
	}
	r.in.Cloned = r.in.Cloned[:0]
	child, err := r.in.Syscall("clone3", unix.SYS_CLONE3, args, linux.CloneArgsSize)
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("restore %d: %w", pid, ErrPidTaken)
		}
		return nil, err
	}
	if pid == 0 { // any
		pid = int(child)
	} else if int(child) != pid {
		return nil, fmt.Errorf("clone3 gave pid %d, want %d", child, pid)
	}
	// clone3 returns the pid in n's namespace; the fork event, the
	// host's.
	hpid := pid
	if t.pidns() {
		if len(r.in.Cloned) == 0 {
			return nil, fmt.Errorf("clone3 of %d in %d: no fork event", pid, n.pid)
		}
		hpid = r.in.Cloned[len(r.in.Cloned)-1]
	}
	cr := &restorer{opts: t.opts, log: t.log.With().Int("pid", pid).Logger(), store: t.store, tr: t.tr, pid: hpid, vpid: pid,
		ghosts: t.ghosts, t: t, tids: []int{hpid}, vtids: []int{pid}}
	if k != nil {
		cr.sn = k.sn
	}
	if k == nil || k.sn.zombie() {
		// A task that never restores memory of its own (a zombie, a
		// helper) has its parent's, scratch area included: its
		// stub's stack is gone.
		cr.scr = r.scr
	}
	st, err := t.tr.WaitStop(hpid)
	if err != nil {
		return nil, err
	}
	if !st.Stopped() {
		return nil, fmt.Errorf("new task %d: unexpected status %#x", pid, uint32(st.WaitStatus))
	}
	regs, err := t.tr.GetRegs(hpid)
	if err != nil {
		return nil, err
	}
	cr.in = &ptrace.Injector{T: t.tr, Tid: hpid, Base: regs, IP: r.in.IP}
	return cr, nil
}

// create restores n's memory, then forks n's children, recursively, so
// that they start with n's restored memory (package mm). A session
// leader forks the children that kept its former session before it
// calls setsid, and takes its controlling terminal back right after
// (setCtty), so that the children it forks next inherit it.
func (t *treeRestorer) create(ctx context.Context, n *node) error {
	if !n.sn.zombie() && !n.helper {
		set := n.sn.cores[uint32(n.pid)].GetThreadCore().GetCgSet()
		if err := t.cg.Move(n.r, n == t.nodes[0] && t.mask&unix.CLONE_NEWCGROUP != 0, n.r.pid, set); err != nil {
			return err
		}
		t0 := time.Now()
		if err := n.r.restoreMemory(ctx); err != nil {
			return fmt.Errorf("task %d: %w", n.pid, err)
		}
		t.memTime += time.Since(t0)
	}
	setsid := n.sid() == n.pid && n.curSid != n.pid
	var before, after, via []*node
	for _, k := range n.kids {
		switch {
		case t.sessions.Via[k.pid].By != 0:
			via = append(via, k) // once their session's leader is made
		case setsid && t.bornIn(k) != 0 && t.bornIn(k) != n.pid:
			before = append(before, k)
		default:
			after = append(after, k)
		}
	}
	fork := func(k, by *node) error {
		r, err := t.forkChild(by, k.pid, k, by != n && !t.sessions.Via[k.pid].Reparent, uint64(unix.SIGCHLD))
		if err != nil {
			return fmt.Errorf("create task %d: %w", k.pid, err)
		}
		k.r = r
		if m := by.memory(); m == n.memory() {
			r.inherit = m // n's, whose pages PeCow flags are
		}
		k.curSid, k.curPgid = by.curSid, by.curPgid
		t.created = append(t.created, k)
		return t.create(ctx, k)
	}
	for _, k := range before {
		if err := fork(k, n); err != nil {
			return err
		}
	}
	if setsid {
		if _, err := n.r.sys("setsid", unix.SYS_SETSID); err != nil {
			return err
		}
		n.curSid, n.curPgid = n.pid, n.pid
	}
	if n.sid() == n.pid {
		if err := t.setCtty(n); err != nil {
			return err
		}
	}
	for _, k := range after {
		if err := fork(k, n); err != nil {
			return err
		}
	}
	for _, k := range via {
		by, err := t.sessionForker(n, k)
		if err != nil {
			return err
		}
		if err := fork(k, by); err != nil {
			return err
		}
	}
	return nil
}

// sessionForker is the task that forks n's child k in n's stead, in
// k's session (pstree.Via): its leader, made already, or a helper with
// the leader's pid, made here as n's child on first use, which calls
// setsid; with Reparent, a helper the leader forks. Helpers exit before
// the tree resumes (finishDead).
func (t *treeRestorer) sessionForker(n, k *node) (*node, error) {
	v := t.sessions.Via[k.pid]
	by := t.byPid[v.By]
	switch {
	case v.Reparent && by != nil:
		// The task goes to n when the helper exits: n must reap it.
		if tc := n.sn.cores[uint32(n.pid)].GetTc(); (!t.pidns() || n != t.nodes[0]) && !tc.GetChildSubreaper() {
			return nil, fmt.Errorf("%w: task %d, in session %d, was re-parented to %d, which is neither a child subreaper nor the init of the tree's pid namespace", ErrUnsupported, k.pid, v.By, n.pid)
		} else if err := task.SetChildSubreaper(n.r, tc); err != nil {
			return nil, err
		}
		return t.helper(by, t.sparePid(), fmt.Sprintf("task %d, re-parented to %d", k.pid, n.pid), 0, uint64(unix.SIGCHLD))
	case by != nil:
		return by, nil
	case v.Helper:
		return t.helper(n, v.By, "session", unix.SYS_SETSID, uint64(unix.SIGCHLD))
	}
	return nil, fmt.Errorf("%w: the leader %d of task %d's session is not made before it", ErrBadImage, v.By, k.pid)
}

// helper makes a task that is not in the images as n's child, with pid
// (0: any), sending sig to n when it dies, and runs call (setsid,
// setpgid(0, 0), or none) in it: it
// gives a session or a group its id, or forks a task to be re-parented,
// and exits before the tree resumes (finishDead).
func (t *treeRestorer) helper(n *node, pid int, what string, call uintptr, sig uint64) (*node, error) {
	r, err := t.forkChild(n, pid, nil, false, sig)
	if err != nil {
		return nil, fmt.Errorf("create helper %d for %s %d: %w", pid, what, pid, err)
	}
	h := &node{pid: r.vpid, parent: n, helper: true, r: r, curSid: n.curSid, curPgid: n.curPgid}
	t.byPid[h.pid] = h
	t.created = append(t.created, h)
	t.nodes = append(t.nodes, h)
	if call != 0 {
		if _, err := r.sys("helper", call, 0, 0); err != nil {
			return nil, fmt.Errorf("helper %d for %s %d: %w", h.pid, what, h.pid, err)
		}
		h.curPgid = h.pid
		if call == unix.SYS_SETSID {
			h.curSid = h.pid
		}
	}
	h.sn = &snapshot{pst: &images.PstreeEntry{Pid: proto.Uint32(uint32(h.pid)), Ppid: proto.Uint32(uint32(n.pid)),
		Pgid: proto.Uint32(uint32(h.curPgid)), Sid: proto.Uint32(uint32(h.curSid))}}
	return h, nil
}

// sparePid is a pid for a helper that no task of the tree has: in the
// tree's own pid namespace, the next above them all; else the kernel's
// choice.
func (t *treeRestorer) sparePid() int {
	if !t.pidns() {
		return 0
	}
	m := 0
	for _, n := range t.nodes {
		m = max(m, n.pid)
	}
	for _, pid := range t.ti.dead { // deadpid.go's, made later
		m = max(m, int(pid))
	}
	return m + 1
}

// bornIn is the session k must be born in (0: any): its own, or, for a
// session leader, the one descendants of it keep (pstree.Sessions).
func (t *treeRestorer) bornIn(k *node) int {
	if k.sid() != k.pid {
		return k.sid()
	}
	return t.sessions.Born[k.pid]
}

// memory is the snapshot whose restored memory n's address space holds
// (its parent's for a zombie or a helper, which restore none), nil
// before the root's is restored.
func (n *node) memory() *snapshot {
	for ; n != nil; n = n.parent {
		if !n.helper && !n.sn.zombie() {
			if n.r.scr == 0 {
				return nil
			}
			return n.sn
		}
	}
	return nil
}

// checkSessions verifies every task got its dumped session.
func (t *treeRestorer) checkSessions() error {
	for _, n := range t.nodes {
		if n.curSid != n.sid() {
			return fmt.Errorf("%w: task %d is in session %d, which restore did not give it (it got %d)", ErrUnsupported, n.pid, n.sid(), n.curSid)
		}
	}
	return nil
}

// setGroups puts every task in its process group (pstree.SetGroups); a
// group whose leader is gone gets a helper with its id.
func (t *treeRestorer) setGroups() error {
	nodes := t.nodes
	ms := make([]pstree.Member, len(nodes))
	for i, n := range nodes {
		ms[i] = pstree.Member{Proc: deadTask{handTask{n.r}}, Pid: n.pid, Pgid: n.pgid(), Cur: &n.curPgid, Helper: n.helper}
	}
	return pstree.SetGroups(ms, func(pg int) bool { return t.byPid[pg] != nil || t.outGroup(pg) }, func(i, pg int) error {
		_, err := t.helper(nodes[i], pg, "process group", unix.SYS_SETPGID, uint64(unix.SIGCHLD))
		return err
	})
}

// finishDead makes zombies exit with their dumped status and helpers
// exit and be reaped (pstree.FinishDead); with deadPids, the helpers of
// makeDeadPids only, which send no SIGCHLD, else all others.
func (t *treeRestorer) finishDead(deadPids bool) error {
	var dead []pstree.Dead
	for _, n := range t.nodes {
		if (n.helper || n.sn.zombie()) && n.deadPid == deadPids {
			d := pstree.Dead{Pid: n.pid, Task: deadTask{handTask{n.r}}, Parent: deadTask{handTask{n.parent.r}}, Helper: n.helper,
				ParentDead: n.parent.helper || n.parent.sn.zombie(), Quiet: n.deadPid}
			if !n.helper {
				d.Status = n.sn.cores[uint32(n.pid)].GetTc().GetExitCode()
			}
			dead = append(dead, d)
		}
	}
	return pstree.FinishDead(dead)
}

// deadTask is a created task as pstree.FinishDead drives it.
type deadTask struct{ handTask }

func (x deadTask) DieBy(sig syscall.Signal) error {
	unix.Prlimit(x.r.pid, unix.RLIMIT_CORE, &unix.Rlimit{}, nil)
	if err := x.r.tr.SetSigmask(x.r.pid, 0); err != nil {
		return err
	}
	return x.r.tr.Detach(x.r.pid, sig)
}

// killAll kills every task created so far and reaps them all. Killing
// the init of the tree's pid namespace kills every task in it.
func (t *treeRestorer) killAll() {
	for _, n := range t.created {
		unix.Kill(n.r.pid, unix.SIGKILL)
	}
	for i := len(t.created) - 1; i >= 0; i-- {
		n := t.created[i]
		t.tr.Kill(n.r.pid, n.r.tids)
	}
	// Children of killed tasks came to us (a subreaper): reap them.
	t.tr.Do(func() error {
		deadline := time.Now().Add(2 * time.Second)
		for _, n := range t.created {
			hpid := n.r.pid
			for time.Now().Before(deadline) {
				var ws unix.WaitStatus
				got, err := unix.Wait4(hpid, &ws, unix.WALL|unix.WNOHANG, nil)
				if err != nil || got == hpid {
					break
				}
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", hpid)); err != nil {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		return nil
	})
}
