package shmem

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Objects are the shared memory objects a restore makes once, in the
// restorer, before any task maps them: memfd inodes with their contents,
// and shared anonymous memory objects filled from their pagemaps. Tasks
// open and map them through the restorer's /proc links (MemfdPath,
// SharedPath). Close releases the restorer's own references.
type Objects struct {
	store  image.Store
	memfds map[uint32]*images.MemfdInodeEntry // memfd.img, by inode id
	inodes map[uint32]int                     // the restorer's fd of each inode made
	given  map[uint32]bool                    // inodes whose memfd_create description a file took
	shm    map[uint64][]byte                  // shared anonymous objects, by shmid
}

// NewObjects returns the objects of the images in s, none made yet;
// memfds is memfd.img (ReadMemfds).
func NewObjects(s image.Store, memfds map[uint32]*images.MemfdInodeEntry) *Objects {
	return &Objects{store: s, memfds: memfds, inodes: map[uint32]int{}, given: map[uint32]bool{}, shm: map[uint64][]byte{}}
}

// Inode is the restorer's fd of memfd inode id, made (with its contents)
// the first time it is asked for.
func (o *Objects) Inode(ctx context.Context, id uint32) (int, error) {
	if fd, ok := o.inodes[id]; ok {
		return fd, nil
	}
	e := o.memfds[id]
	if e == nil {
		return -1, fmt.Errorf("%w: memfd inode %d not in %s", errdefs.ErrBadImage, id, MemfdImage)
	}
	create := func() (int, error) { return CreateMemfd(ctx, o.store, e) }
	if isAnonInode(e) {
		create = func() (int, error) { return o.openAnon(ctx, e) }
	}
	fd, err := create()
	if err != nil {
		return -1, err
	}
	o.inodes[id] = fd
	return fd, nil
}

// OpenMemfd opens, in the restorer, the description of memfd file f: its
// inode's own memfd_create description for the first read-write file of
// the inode, otherwise the inode reopened with f's access mode; then f's
// flags and position. memfd_create's description is no writer of the
// inode (the kernel counts writers only among files opened by path), so
// an execveat of the memfd works after restore as it did before; a
// reopen for writing is one, and fails it with ETXTBSY while open.
func (o *Objects) OpenMemfd(ctx context.Context, f *images.FileEntry) (int, error) {
	mf := f.GetMemfd()
	ino, err := o.Inode(ctx, mf.GetInodeId())
	if err != nil {
		return -1, err
	}
	flags := mf.GetFlags()
	var fd int
	if flags&unix.O_ACCMODE == unix.O_RDWR && !o.given[mf.GetInodeId()] {
		o.given[mf.GetInodeId()] = true
		fd, err = unix.FcntlInt(uintptr(ino), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return -1, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err)
		}
	} else if fd, err = unix.Open(fmt.Sprintf("/proc/self/fd/%d", ino), int(flags&unix.O_ACCMODE)|unix.O_CLOEXEC, 0); err != nil {
		return -1, os.NewSyscallError("open", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(flags&^(unix.O_ACCMODE|unix.O_CLOEXEC))); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	if _, err := unix.Seek(fd, int64(mf.GetPos()), 0); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("lseek", err)
	}
	return fd, nil
}

// MemfdPath is how a task opens memfd file f (file id id) with flags to
// map it: for a writable mapping, fd is the restorer's fd of its inode,
// whose memfd_create description the task is to get (a reopen for
// writing would add a writer, OpenMemfd); else fd is -1 and path is the
// restorer's /proc link to that fd, to reopen.
func (o *Objects) MemfdPath(f *images.FileEntry, id uint32, flags uint64) (path string, fd int, err error) {
	fd, ok := o.inodes[f.GetMemfd().GetInodeId()]
	if f.GetType() != images.FdTypes_MEMFD || !ok {
		return "", -1, fmt.Errorf("%w: file %d is not a memfd", errdefs.ErrBadImage, id)
	}
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return "", fd, nil
	}
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd), -1, nil
}

// MakeShared creates shared anonymous memory object id of size bytes in
// the restorer (or its file's size, if larger: anon.go) and fills it,
// once, from its pagemap.
func (o *Objects) MakeShared(ctx context.Context, id, size uint64) error {
	size = max(size, anonSize(o.memfds, id))
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("shared memory %d: %w", id, os.NewSyscallError("mmap", err))
	}
	o.shm[id] = b
	if _, err := Fill(ctx, o.store, id, Mapping(b)); err != nil {
		return fmt.Errorf("shared memory %d: %w", id, err)
	}
	return nil
}

// MakeMapped makes the objects the tasks of mms map: one shared
// anonymous object per shmid, as big as its largest use (MakeShared),
// then the memfds (Inode, each a MEMFD file of files), before any task
// maps or opens them (a file may open a shared anonymous object too:
// anon.go).
func (o *Objects) MakeMapped(ctx context.Context, mms []*images.MmEntry, files map[uint32]*images.FileEntry) error {
	sizes := map[uint64]uint64{}
	var memfds []*images.FileEntry
	for _, mm := range mms {
		for _, v := range mm.GetVmas() {
			if v.GetStatus()&image.VmaAnonShared != 0 {
				end := v.GetPgoff() + v.GetEnd() - v.GetStart()
				sizes[v.GetShmid()] = max(sizes[v.GetShmid()], end)
			}
			if v.GetStatus()&image.VmaAreaMemfd != 0 {
				f := files[uint32(v.GetShmid())]
				if f.GetType() != images.FdTypes_MEMFD {
					return fmt.Errorf("%w: memfd mapping %#x-%#x: file %d is not a memfd", errdefs.ErrBadImage, v.GetStart(), v.GetEnd(), v.GetShmid())
				}
				memfds = append(memfds, f)
			}
		}
	}
	for id, size := range sizes {
		if err := o.MakeShared(ctx, id, size); err != nil {
			return err
		}
	}
	for _, f := range memfds {
		if _, err := o.Inode(ctx, f.GetMemfd().GetInodeId()); err != nil {
			return err
		}
	}
	return nil
}

// SharedPath is the restorer's /proc/PID/map_files link to shared
// anonymous memory object id, through which a task maps it; false when
// the restore made no such object.
func (o *Objects) SharedPath(id uint64) (string, bool) {
	b, ok := o.shm[id]
	if !ok {
		return "", false
	}
	start := linux.SliceAddr(b)
	return fmt.Sprintf("/proc/%d/map_files/%x-%x", os.Getpid(), start, start+uintptr(len(b))), true
}

// Seal gives each memfd made its seals, once every task has mapped it (a
// write seal forbids writable shared mappings made after it).
func (o *Objects) Seal() error {
	for _, id := range SortedIDs(o.memfds) {
		if fd, ok := o.inodes[id]; ok && !isAnonInode(o.memfds[id]) { // F_SEAL_SEAL from birth
			if err := Seal(fd, o.memfds[id]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close closes the restorer's memfd inodes and unmaps its shared
// anonymous objects; the tasks keep theirs.
func (o *Objects) Close() {
	for id, fd := range o.inodes {
		unix.Close(fd)
		delete(o.inodes, id)
	}
	for id, b := range o.shm {
		unix.Munmap(b)
		delete(o.shm, id)
	}
}
