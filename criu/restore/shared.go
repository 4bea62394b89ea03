package restore

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/anonfd"
	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/nsfile"
	"github.com/criugo/criu/criu/pipes"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/sockets"
	"github.com/criugo/criu/criu/tun"
	"github.com/criugo/criu/proto/images"
)

// openMasters creates, in the restorer, the file descriptions tasks share (pipes,
// shared files, files in flight in socket queues) and the shared anonymous memory.
func (t *treeRestorer) openMasters(ctx context.Context) error {
	refs := map[uint32]int{}
	for _, fdis := range t.ti.fdinfo {
		for _, fi := range fdis {
			refs[fi.GetId()]++
		}
	}
	t.ti.skQueues.Share(refs)
	pm := pipes.NewMasters(t.ti.pipeData, t.ti.fifoData, func(fd int) { t.masterFds = append(t.masterFds, fd) })
	pm.Root, pm.Ghost = t.mnt.Prefix(t.nodes[0].r.pid), t.ghosts.Of
	// The shared memory tasks map, first: a file may open it too.
	var mms []*images.MmEntry
	for _, n := range t.live() {
		mms = append(mms, n.sn.mm)
	}
	if err := t.shmem.MakeMapped(ctx, mms, t.ti.files); err != nil {
		return err
	}
	var unixIDs []uint32
	if err := t.openDeadPidfds(refs); err != nil {
		return err
	}
	for id := range refs {
		f := t.ti.files[id]
		if f == nil {
			return fmt.Errorf("%w: fd of file %d, not in files.img", ErrBadImage, id)
		}
		switch f.GetType() {
		case images.FdTypes_PIPE:
			pe := f.GetPipe()
			if in, ok := t.inheritedFd(pipes.Key(pe)); ok {
				fd, err := files.ReopenInherited(in, pe.GetFlags())
				if err != nil {
					return fmt.Errorf("%s: %w", pipes.Key(pe), err)
				}
				t.masterFds = append(t.masterFds, fd)
				t.masters[id] = fd
				continue
			}
			fd, err := pm.Pipe(pe)
			if err != nil {
				return err
			}
			t.masters[id] = fd
		case images.FdTypes_FIFO:
			fd, err := pm.Fifo(id, f, t.ti.files)
			if err != nil {
				return err
			}
			t.masters[id] = fd
		case images.FdTypes_UNIXSK:
			unixIDs = append(unixIDs, id)
		case images.FdTypes_TTY:
			// Opened before the tree is created (openTTYs).
		case images.FdTypes_INETSK:
			fd, err := t.inet.Open(ctx, f.GetIsk())
			if err != nil {
				return err
			}
			t.masterFds = append(t.masterFds, fd)
			t.masters[id] = fd
		case images.FdTypes_NETLINKSK, images.FdTypes_PACKETSK:
			fd, err := sockets.OpenSocket(f)
			if err != nil {
				return err
			}
			t.masterFds = append(t.masterFds, fd)
			t.masters[id] = fd
		case images.FdTypes_EVENTFD, images.FdTypes_SIGNALFD, images.FdTypes_TIMERFD, images.FdTypes_EVENTPOLL, images.FdTypes_INOTIFY,
			images.FdTypes_FANOTIFY:
			fd, err := anonfd.OpenFile(f, t.ghosts.ByIno(), procfs.Path(t.nodes[0].r.pid, "root"))
			if err != nil {
				return fmt.Errorf("file %d (%v): %w", id, f.GetType(), err)
			}
			t.masterFds = append(t.masterFds, fd)
			t.masters[id] = fd
		case images.FdTypes_NS:
			fd, err := nsfile.Open(f.GetNsf(), procfs.Path(t.nodes[0].r.pid, "ns"), t.rootNsID)
			if err != nil {
				return err
			}
			t.masterFds = append(t.masterFds, fd)
			t.masters[id] = fd
		case images.FdTypes_TUNF:
			fd, err := t.openTun(ctx, f)
			if err != nil {
				return fmt.Errorf("file %d (tun): %w", id, err)
			}
			t.masterFds = append(t.masterFds, fd)
			t.masters[id] = fd
		case images.FdTypes_MEMFD:
			fd, err := t.shmem.OpenMemfd(ctx, f)
			if err != nil {
				return fmt.Errorf("file %d (memfd): %w", id, err)
			}
			t.masterFds = append(t.masterFds, fd)
			t.masters[id] = fd
		case images.FdTypes_REG:
			if reg := f.GetReg(); reg != nil {
				if in, ok := t.inheritedFd(files.RegKey(reg)); ok {
					fd, err := files.DupInherited(in)
					if err != nil {
						return fmt.Errorf("%s: %w", reg.GetName(), err)
					}
					t.masterFds = append(t.masterFds, fd)
					t.masters[id] = fd
					continue
				}
			}
			if refs[id] < 2 {
				continue
			}
			path, reg, err := t.nodes[0].r.filePath(id)
			if err != nil {
				return err
			}
			fd, err := unix.Open(t.mnt.InRoot(t.nodes[0].r.pid, path), files.OpenFlags(reg)|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w", path, os.NewSyscallError("open", err))
			}
			t.masterFds = append(t.masterFds, fd)
			if _, err := unix.Seek(fd, int64(reg.GetPos()), 0); err != nil {
				return os.NewSyscallError("lseek", err)
			}
			t.masters[id] = fd
		}
	}
	if len(unixIDs) > 0 {
		if err := t.inContainer(func() error {
			return sockets.OpenUnix(sockRestorer{t}, t.ti.files, t.ti.skQueues, unixIDs, t.masters)
		}); err != nil {
			return err
		}
	}
	return nil
}

// closeMasters closes the restorer's copies; the tasks keep theirs.
func (t *treeRestorer) closeMasters() {
	for _, fd := range t.masterFds {
		unix.Close(fd)
	}
	t.masterFds = nil
	t.shmem.Close()
}

// installShared gives the task fd fi as a copy of the restorer's master
// description (pidfd_getfd run inside the task, package handoff).
func (r *restorer) installShared(fi *images.FdinfoEntry) error {
	return r.t.hand.Install(handTask{r}, r.t.masters[fi.GetId()], uint64(fi.GetFd()), r.above(), fi.GetFlags()&unix.FD_CLOEXEC != 0)
}

// above is the lowest fd number above every fd of the task's images.
func (r *restorer) above() uint64 {
	if r.fdsAbove == 0 {
		r.fdsAbove = 3
		for _, fi := range r.sn.fdinfo {
			r.fdsAbove = max(r.fdsAbove, uint64(fi.GetFd())+1)
		}
	}
	return r.fdsAbove
}

// handTask is a created task as package handoff sees it.
type handTask struct{ r *restorer }

func (x handTask) Pid() int { return x.r.pid }
func (x handTask) Sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	return x.r.sys(name, nr, args...)
}
func (x handTask) Scratch() uint64 { return stackScratch(x.r) }

// mapShared maps the shared anonymous object at v's address, through the
// restorer's /proc/PID/map_files link to it (path).
func (r *restorer) mapShared(v *images.VmaEntry, path string, prot uint32) error {
	fd, err := r.t.hand.Open(handTask{r}, path, unix.O_RDWR|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer r.sys("close", unix.SYS_CLOSE, fd)
	flags := uint64(v.GetFlags())&^unix.MAP_ANONYMOUS | unix.MAP_SHARED | unix.MAP_FIXED
	_, err = r.sys("mmap", unix.SYS_MMAP, v.GetStart(), v.GetEnd()-v.GetStart(), uint64(prot), flags, fd, v.GetPgoff())
	return err
}

// openTun opens tun file f in the tree's network namespace (netDo),
// attached to its device, which the namespace's restore made.
func (t *treeRestorer) openTun(ctx context.Context, f *images.FileEntry) (int, error) {
	if t.tun == nil {
		links, err := netns.TunLinks(ctx, t.store, t.nodes[0].sn.ids.GetNetNsId())
		if err != nil {
			return -1, err
		}
		t.tun = &tun.Opener{Links: links}
	}
	return t.tun.OpenFile(f.GetTunf(), f.GetReg().GetFlags())
}

// rootNsID is the object id of the root's namespace of kind (as in
// /proc/PID/ns) in the images.
func (t *treeRestorer) rootNsID(kind string) uint32 {
	for _, k := range nsFlags {
		if k.name == kind {
			return k.id(t.nodes[0].sn.ids)
		}
	}
	return 0
}
