package restore

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/ipcns"
	"github.com/criugo/criu/criu/locks"
	"github.com/criugo/criu/criu/mm/pagemap"
	"github.com/criugo/criu/criu/pipes"
	"github.com/criugo/criu/criu/seccomp"
	"github.com/criugo/criu/criu/shmem"
	"github.com/criugo/criu/criu/sockets/skqueue"
	"github.com/criugo/criu/criu/tty"
	"github.com/criugo/criu/proto/images"
)

// snapshot is every image of one task, read before anything is created.
type snapshot struct {
	inv     *images.InventoryEntry
	pst     *images.PstreeEntry
	cores   map[uint32]*images.CoreEntry
	mm      *images.MmEntry
	fs      *images.FsEntry
	files   map[uint32]*images.FileEntry
	fdinfo  []*images.FdinfoEntry
	remaps  map[uint32]uint32 // file id -> ghost id
	pagemap []*images.PagemapEntry
	pagesID uint32
	ids     *images.TaskKobjIdsEntry
	// sharedFds: the fd table is an earlier task's (CLONE_FILES).
	sharedFds bool
}

// treeImages is every image of the tree, read before anything is created.
type treeImages struct {
	inv    *images.InventoryEntry
	files  map[uint32]*images.FileEntry
	remaps map[uint32]uint32
	// linked: the file each file deleted while open is linked back
	// from (CRIU's --link-remap), by file id.
	linked map[uint32]uint32
	dead   map[uint32]uint32 // an exited task's pid by its /proc file's id (deadpid.go)
	// tasks in pstree order (parents before children); zombies have
	// only pst and cores.
	tasks []*snapshot
	// fdinfo by files id: tasks sharing an fd table share the entries.
	fdinfo map[uint32][]*images.FdinfoEntry
	// fsByID: tasks sharing fs (CLONE_FS) have one fs image.
	fsByID map[uint32]*images.FsEntry
	// pipeData by pipe id.
	pipeData map[uint32]*pipes.Data
	// fifoData by fifo pipe id, from fifo-data.img.
	fifoData map[uint32]*pipes.Data
	// skQueues: messages queued on sockets, by socket file id.
	skQueues skqueue.Queues
	// locks are the file locks of filelocks.img (package locks).
	locks []*images.FileLockEntry
	// ttyInfo by info id, from tty-info.img (package tty).
	ttyInfo map[uint32]*images.TtyInfoEntry
	// sysv: System V shared memory segments by shmid (ipcns.ReadAttached).
	sysv map[uint32]*ipcns.Segment
	// seccomp: every thread's filters (package seccomp).
	seccomp *images.SeccompEntry
	// memfds: memfd inodes by inode_id, from memfd.img (package shmem).
	memfds map[uint32]*images.MemfdInodeEntry
}

// zombie reports a task that was dead at dump time.
func (sn *snapshot) zombie() bool {
	tc := sn.cores[sn.pst.GetPid()].GetTc()
	return tc != nil && tc.GetTaskState() == 2
}

func readTree(ctx context.Context, s image.Store) (*treeImages, error) {
	ti := &treeImages{fdinfo: map[uint32][]*images.FdinfoEntry{}, fsByID: map[uint32]*images.FsEntry{}}
	ti.inv = &images.InventoryEntry{}
	if err := image.ReadOne(ctx, s, "inventory.img", ti.inv); err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	if v := ti.inv.GetImgVersion(); v != 2 {
		return nil, fmt.Errorf("%w: inventory img_version %d, want 2", ErrBadImage, v)
	}
	psts, err := image.ReadAll(ctx, s, "pstree.img", func() proto.Message { return &images.PstreeEntry{} })
	if err != nil {
		return nil, err
	}
	if len(psts) == 0 {
		return nil, fmt.Errorf("%w: pstree.img is empty", ErrBadImage)
	}
	if ti.files, err = files.ReadFiles(ctx, s); err != nil {
		return nil, err
	}
	if ti.remaps, ti.linked, ti.dead, err = files.ReadRemaps(ctx, s); err != nil {
		return nil, err
	}
	if ti.pipeData, err = pipes.ReadData(ctx, s, pipes.PipesDataImage); err != nil {
		return nil, err
	}
	if ti.fifoData, err = pipes.ReadData(ctx, s, pipes.FifoDataImage); err != nil {
		return nil, err
	}
	if ti.skQueues, err = skqueue.Read(ctx, s); err != nil {
		return nil, err
	}
	if ti.locks, err = locks.Read(ctx, s); err != nil {
		return nil, err
	}
	if ti.ttyInfo, err = tty.ReadInfo(ctx, s); err != nil {
		return nil, err
	}
	if ti.sysv, err = ipcns.ReadAttached(ctx, s); err != nil {
		return nil, err
	}
	if ti.seccomp, err = seccomp.Read(ctx, s); err != nil {
		return nil, err
	}
	if ti.memfds, err = shmem.ReadMemfds(ctx, s); err != nil {
		return nil, err
	}
	for _, m := range psts {
		sn, err := readTask(ctx, s, ti, m.(*images.PstreeEntry))
		if err != nil {
			return nil, err
		}
		ti.tasks = append(ti.tasks, sn)
	}
	return ti, nil
}

// readTask reads the images of one task of the tree.
func readTask(ctx context.Context, s image.Store, ti *treeImages, pst *images.PstreeEntry) (*snapshot, error) {
	sn := &snapshot{inv: ti.inv, pst: pst, cores: map[uint32]*images.CoreEntry{}, files: ti.files, remaps: ti.remaps}
	pid := sn.pst.GetPid()
	if th := sn.pst.GetThreads(); len(th) == 1 && th[0] != pid {
		// CRIU 4.2 writes a zombie's one thread as 0 or leaves it
		// unset (any number): its core says it is dead.
		c := &images.CoreEntry{}
		if image.ReadOne(ctx, s, fmt.Sprintf("core-%d.img", pid), c) == nil && c.GetTc().GetTaskState() == 2 {
			sn.pst.Threads = []uint32{pid}
		}
	}
	if len(sn.pst.GetThreads()) == 0 || sn.pst.GetThreads()[0] != pid {
		return nil, fmt.Errorf("%w: pstree threads %v do not start with pid %d", ErrBadImage, sn.pst.GetThreads(), pid)
	}
	for _, tid := range sn.pst.GetThreads() {
		c := &images.CoreEntry{}
		if err := image.ReadOne(ctx, s, fmt.Sprintf("core-%d.img", tid), c); err != nil {
			return nil, err
		}
		if c.GetMtype() != images.CoreEntry_X86_64 {
			return nil, fmt.Errorf("%w: core-%d.img is not x86_64", ErrUnsupported, tid)
		}
		sn.cores[tid] = c
		if sn.zombie() {
			return sn, nil
		}
		if c.GetThreadInfo() == nil {
			return nil, fmt.Errorf("%w: core-%d.img has no thread info", ErrBadImage, tid)
		}
	}
	if sn.cores[pid].GetTc() == nil {
		return nil, fmt.Errorf("%w: core-%d.img has no task core", ErrBadImage, pid)
	}
	sn.mm = &images.MmEntry{}
	if err := image.ReadOne(ctx, s, fmt.Sprintf("mm-%d.img", pid), sn.mm); err != nil {
		return nil, err
	}
	sn.ids = sn.cores[pid].GetIds()
	if sn.ids == nil {
		sn.ids = &images.TaskKobjIdsEntry{}
		if err := image.ReadOne(ctx, s, fmt.Sprintf("ids-%d.img", pid), sn.ids); err != nil {
			return nil, err
		}
	}
	if f, ok := ti.fsByID[sn.ids.GetFsId()]; ok {
		sn.fs = f
	} else {
		sn.fs = &images.FsEntry{}
		if err := image.ReadOne(ctx, s, fmt.Sprintf("fs-%d.img", pid), sn.fs); err != nil {
			return nil, err
		}
		ti.fsByID[sn.ids.GetFsId()] = sn.fs
	}
	filesID := sn.ids.GetFilesId()
	if fdis, ok := ti.fdinfo[filesID]; ok {
		sn.fdinfo = fdis
		sn.sharedFds = true
	} else {
		fdis, err := image.ReadAll(ctx, s, fmt.Sprintf("fdinfo-%d.img", filesID), func() proto.Message { return &images.FdinfoEntry{} })
		if err != nil {
			return nil, err
		}
		for _, m := range fdis {
			sn.fdinfo = append(sn.fdinfo, m.(*images.FdinfoEntry))
		}
		ti.fdinfo[filesID] = sn.fdinfo
	}
	var err error
	if sn.pagesID, sn.pagemap, err = pagemap.Read(ctx, s, pid); err != nil {
		return nil, err
	}
	return sn, nil
}
