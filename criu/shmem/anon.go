package shmem

import (
	"context"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Shared anonymous memory as a file. The shmem inode behind a
// MAP_SHARED|MAP_ANONYMOUS mapping (or a MAP_SHARED one of /dev/zero)
// is a file too: /proc/PID/map_files/START-END opens it, and the fd reads
// as "/dev/zero (deleted)", on the kernel's internal shm mount (that of
// memfds: no mount namespace has it). A task may keep such an fd after
// unmapping the memory, read and write it, and map it again, shared or
// privately (CRIU's zdtm shmemfd, shmemfd-priv).
//
// Its image is CRIU 4.2's: a MEMFD file whose inode is named "/dev/zero"
// (a memfd's name comes after "/memfd:"; CRIU strips that prefix and
// keeps this path as it is), shmid the inode number as for its
// mappings, so that the pages are saved once for both. Restore makes the
// object as the kernel makes it, a shared anonymous mapping in the
// restorer (MakeShared), and opens its map_files link: the file reads as
// it did, and the tasks' mappings of the same shmid share it.

// anonName is the name a shared anonymous object's inode is saved with.
const anonName = "/dev/zero"

const anonTarget = anonName + " (deleted)"

// anonDev is the device of the kernel's internal shm mount, read from a
// shared anonymous mapping of criu's own.
var anonDev = sync.OnceValues(func() (uint64, error) {
	b, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0, os.NewSyscallError("mmap", err)
	}
	defer unix.Munmap(b)
	start := linux.SliceAddr(b)
	var st unix.Stat_t
	link := fmt.Sprintf("/proc/self/map_files/%x-%x", start, start+uintptr(len(b)))
	if err := unix.Stat(link, &st); err != nil {
		return 0, &os.PathError{Op: "stat", Path: link, Err: err}
	}
	return st.Dev, nil
})

// IsAnon reports whether target (an fd or map_files link's target, or an
// smaps path), of a file on device dev, names a shared anonymous object.
func IsAnon(target string, dev uint64) bool {
	if target != anonTarget {
		return false
	}
	d, err := anonDev()
	return err == nil && d == dev
}

// isAnonInode: memfd inode e is a shared anonymous object.
func isAnonInode(e *images.MemfdInodeEntry) bool {
	return e.GetName() == anonName && e.GetHugetlbFlag() == 0
}

// openAnon makes shared anonymous object e (MakeShared, unless its
// mappings made it already) and opens it read-write through the
// restorer's map_files link, with e's size, owner and mode.
func (o *Objects) openAnon(ctx context.Context, e *images.MemfdInodeEntry) (int, error) {
	id := uint64(e.GetShmid())
	if _, ok := o.shm[id]; !ok {
		if err := o.MakeShared(ctx, id, 0); err != nil {
			return -1, err
		}
	}
	path, _ := o.SharedPath(id)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_LARGEFILE|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("shared memory %d: %w", id, &os.PathError{Op: "open", Path: path, Err: err})
	}
	if err := unix.Ftruncate(fd, int64(e.GetSize())); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("shared memory %d: %w", id, os.NewSyscallError("ftruncate", err))
	}
	if err := setOwner(fd, e); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// anonSize is the size, in whole pages, of the shared anonymous object
// shmid id's file in memfds, 0 without one.
func anonSize(memfds map[uint32]*images.MemfdInodeEntry, id uint64) uint64 {
	for _, e := range memfds {
		if isAnonInode(e) && uint64(e.GetShmid()) == id {
			return (e.GetSize() + 4095) &^ 4095
		}
	}
	return 0
}
