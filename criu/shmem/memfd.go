package shmem

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// MemfdImage is the image of the tree's memfd inodes (CRIU: memfd.img,
// magic MEMFD_INODE): one MemfdInodeEntry{name, uid, gid, size, shmid,
// seals, inode_id, mode} each. Their contents are the shmem object
// shmid (= the inode number), saved like any other (pagemap-shmem).
// An fd of one is a FileEntry of type MEMFD naming the inode_id; a
// mapping of one has status VMA_AREA_MEMFD and, as its shmid, the id of
// such a FileEntry (CRIU: same).
const MemfdImage = "memfd.img"

const memfdPrefix = "/memfd:"

// ErrUnsupported is a memfd that cannot be restored as it was.
var ErrUnsupported = errors.New("not supported")

// IsMemfd reports whether target (an fd or map_files link's target, or
// an smaps path) names a memfd.
func IsMemfd(target string) bool {
	return strings.HasPrefix(target, memfdPrefix) && strings.HasSuffix(target, " (deleted)")
}

// Memfds numbers, during a dump, the memfd inodes of the tree. It is
// used by one goroutine.
type Memfds struct {
	byIno   map[uint64]*images.MemfdInodeEntry
	entries []*images.MemfdInodeEntry
}

// Add records the memfd open at link (a /proc/PID/fd/N or map_files
// link; target is what it reads as), with its contents in s, and
// returns its inode_id.
func (m *Memfds) Add(link, target string, s *Set) (uint32, error) {
	f, err := os.Open(link)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", link, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, os.NewSyscallError("fstat", err)
	}
	if e := m.byIno[st.Ino]; e != nil {
		return uint32(e.GetInodeId()), nil
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &sfs); err != nil {
		return 0, os.NewSyscallError("fstatfs", err)
	}
	var huge uint32
	if sfs.Type == unix.HUGETLBFS_MAGIC {
		// A memfd of MFD_HUGETLB, or (as CRIU) a shared anonymous
		// mapping on huge pages, restored as one: its page size in
		// hugetlb_flag.
		if huge = HugeSizeBits(uint64(sfs.Bsize)); huge == 0 {
			return 0, fmt.Errorf("%w: %s: huge pages of %d bytes", ErrUnsupported, target, sfs.Bsize)
		}
	} else if sfs.Type != unix.TMPFS_MAGIC {
		return 0, fmt.Errorf("%w: %s: not a memfd (file system %#x)", ErrUnsupported, target, sfs.Type)
	}
	anon := IsAnon(target, st.Dev)
	if !anon {
		if err := noWriter(f, target); err != nil {
			return 0, err
		}
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", target, os.NewSyscallError("fcntl(F_GET_SEALS)", err))
	}
	name := strings.TrimSuffix(strings.TrimPrefix(target, memfdPrefix), " (deleted)")
	if name == anonName && !anon {
		return 0, fmt.Errorf("%w: %s: a memfd named %s reads as shared anonymous memory in CRIU's image", errdefs.ErrUnsupported, target, anonName)
	}
	if m.byIno == nil {
		m.byIno = map[uint64]*images.MemfdInodeEntry{}
	}
	e := &images.MemfdInodeEntry{
		Name: proto.String(name), Uid: proto.Uint32(st.Uid), Gid: proto.Uint32(st.Gid),
		Size: proto.Uint64(uint64(st.Size)), Shmid: proto.Uint32(uint32(st.Ino)), Seals: proto.Uint32(uint32(seals)),
		InodeId: proto.Uint64(uint64(len(m.entries) + 1)), Mode: proto.Uint32(st.Mode),
	}
	if huge != 0 {
		e.HugetlbFlag = proto.Uint32(unix.MFD_HUGETLB | huge)
	}
	m.byIno[st.Ino] = e
	m.entries = append(m.entries, e)
	s.AddFile(st.Ino, link, uint64(st.Size))
	return uint32(e.GetInodeId()), nil
}

// noWriter refuses a memfd some file opened for writing by path (a
// reopen of /proc/PID/fd/N read-write, here or outside the tree):
// memfd_create's own description is no writer of the inode, a reopen is
// one (execveat of the memfd fails ETXTBSY while it is open), and the
// image cannot tell the two apart, so restore makes every read-write
// description memfd_create's (Objects.OpenMemfd). f is our read-only
// open of it: a read lease on it is refused (EAGAIN) exactly while the
// inode has a writer, and is dropped at once.
func noWriter(f *os.File, target string) error {
	_, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_RDLCK)
	if errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("%w: %s is open for writing by path (a read-write reopen, not memfd_create's own fd): "+
			"CRIU's image cannot tell the two apart, and restore would lose the writer (execveat of it would work)", errdefs.ErrUnsupported, target)
	}
	if errors.Is(err, unix.EINVAL) {
		return nil // a file system without leases (hugetlbfs may be one): as CRIU, no probe
	}
	if err != nil {
		return fmt.Errorf("%s: probe for writers: %w", target, os.NewSyscallError("fcntl(F_SETLEASE)", err))
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_UNLCK); err != nil {
		return fmt.Errorf("%s: %w", target, os.NewSyscallError("fcntl(F_SETLEASE, F_UNLCK)", err))
	}
	return nil
}

// Write writes memfd.img, if the tree has any memfd.
func (m *Memfds) Write(ctx context.Context, st image.Store) error {
	if len(m.entries) == 0 {
		return nil
	}
	msgs := make([]proto.Message, len(m.entries))
	for i, e := range m.entries {
		msgs[i] = e
	}
	return image.WriteImage(ctx, st, MemfdImage, msgs...)
}

// ReadMemfds reads memfd.img by inode_id; images without it have none.
func ReadMemfds(ctx context.Context, st image.Store) (map[uint32]*images.MemfdInodeEntry, error) {
	out := map[uint32]*images.MemfdInodeEntry{}
	msgs, err := image.ReadAll(ctx, st, MemfdImage, func() proto.Message { return &images.MemfdInodeEntry{} })
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		e := m.(*images.MemfdInodeEntry)
		if f := e.GetHugetlbFlag(); f&^(unix.MFD_HUGETLB|unix.MFD_HUGE_MASK<<unix.MFD_HUGE_SHIFT) != 0 {
			return nil, fmt.Errorf("%w: memfd %q: hugetlb_flag %#x", ErrUnsupported, e.GetName(), f)
		}
		out[uint32(e.GetInodeId())] = e
	}
	return out, nil
}

// CreateMemfd makes, in the caller, the memfd e describes, with its size,
// owner, mode and contents; not its seals (Seal, once every task has
// mapped it). The fd is close-on-exec.
func CreateMemfd(ctx context.Context, st image.Store, e *images.MemfdInodeEntry) (fd int, err error) {
	fd, err = unix.MemfdCreate(e.GetName(), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|int(e.GetHugetlbFlag()))
	if err != nil {
		return -1, fmt.Errorf("memfd %q: %w", e.GetName(), os.NewSyscallError("memfd_create", err))
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}()
	if err := unix.Ftruncate(fd, int64(e.GetSize())); err != nil {
		return -1, fmt.Errorf("memfd %q: %w", e.GetName(), os.NewSyscallError("ftruncate", err))
	}
	var filler Filler = FdFiller{Fd: fd, Len: e.GetSize()}
	if e.GetHugetlbFlag() != 0 && e.GetSize() > 0 {
		// hugetlbfs takes no write(2): the pages go in through a mapping.
		m, err := unix.Mmap(fd, 0, int(e.GetSize()), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return -1, fmt.Errorf("memfd %q on huge pages: %w", e.GetName(), os.NewSyscallError("mmap", err))
		}
		defer unix.Munmap(m)
		filler = Mapping(m)
	}
	if _, err := Fill(ctx, st, uint64(e.GetShmid()), filler); err != nil {
		return -1, fmt.Errorf("memfd %q: %w", e.GetName(), err)
	}
	return fd, setOwner(fd, e)
}

// setOwner gives the file fd the owner and mode of memfd inode e.
func setOwner(fd int, e *images.MemfdInodeEntry) error {
	if err := unix.Fchown(fd, int(e.GetUid()), int(e.GetGid())); err != nil {
		return fmt.Errorf("memfd %q: %w", e.GetName(), os.NewSyscallError("fchown", err))
	}
	if e.Mode != nil {
		if err := unix.Fchmod(fd, e.GetMode()&07777); err != nil {
			return fmt.Errorf("memfd %q: %w", e.GetName(), os.NewSyscallError("fchmod", err))
		}
	}
	return nil
}

// Seal gives the memfd fd the seals e had.
func Seal(fd int, e *images.MemfdInodeEntry) error {
	if e.GetSeals() == 0 {
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, int(e.GetSeals())); err != nil {
		return fmt.Errorf("memfd %q: seals %#x: %w", e.GetName(), e.GetSeals(), os.NewSyscallError("fcntl(F_ADD_SEALS)", err))
	}
	return nil
}

// SortedIDs are the inode ids of ms in order.
func SortedIDs(ms map[uint32]*images.MemfdInodeEntry) []uint32 {
	ids := make([]uint32, 0, len(ms))
	for id := range ms {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// HugeSizeBits are the page size bits that go with MAP_HUGETLB (and
// MFD_HUGETLB: the same encoding) for huge pages of size bytes, 0 when
// size is not a power of two.
func HugeSizeBits(size uint64) uint32 {
	if size == 0 || size&(size-1) != 0 {
		return 0
	}
	return uint32(bits.TrailingZeros64(size)) << unix.MAP_HUGE_SHIFT
}
