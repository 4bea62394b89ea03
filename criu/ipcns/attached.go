package ipcns

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/cleanup"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// The System V shared memory segments a tree attached when its IPC
// namespace is not dumped (the host's): saved at dump with their key,
// owner, mode and bytes; at restore made again with their shmid where
// missing, and attached by each task at its address.

// Task is a task being restored, seen by the segments it attaches.
type Task interface {
	// Sys runs system call nr inside the task.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
}

// AttachedImage is the image of the System V shared memory segments the
// tree attached when its IPC namespace is not dumped (the host's). CRIU
// writes ipcns-shm-<ipc ns id>.img when it dumps an IPC namespace; the
// tree's namespace is not dumped here, and 0 stands for it.
const AttachedImage = "ipcns-shm-0.img"

// Attached is the shmids attached by tasks of a tree whose IPC namespace
// is not dumped.
type Attached struct{ ids map[int]bool }

// Add records segment id, attached by a task of the tree.
func (s *Attached) Add(id int) {
	if s.ids == nil {
		s.ids = map[int]bool{}
	}
	s.ids[id] = true
}

// Write saves each segment: its key, owner, mode (with SHM_DEST when it
// was removed and lives on only while attached), size and bytes, read
// through an attach of the dumper's own.
func (s *Attached) Write(ctx context.Context, st image.Store) (err error) {
	if len(s.ids) == 0 {
		return nil
	}
	ids := make([]int, 0, len(s.ids))
	for id := range s.ids {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	w, err := st.Create(ctx, AttachedImage)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	enc, err := image.NewEncoder(w, AttachedImage)
	if err != nil {
		return err
	}
	for _, id := range ids {
		var ds unix.SysvShmDesc
		if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
			return fmt.Errorf("System V shared memory %d: %w", id, os.NewSyscallError("shmctl(IPC_STAT)", err))
		}
		e := &images.IpcShmEntry{
			Desc: &images.IpcDescEntry{
				Key: proto.Uint32(uint32(ds.Perm.Key)), Uid: proto.Uint32(ds.Perm.Uid), Gid: proto.Uint32(ds.Perm.Gid),
				Cuid: proto.Uint32(ds.Perm.Cuid), Cgid: proto.Uint32(ds.Perm.Cgid), Mode: proto.Uint32(uint32(ds.Perm.Mode)),
				Id: proto.Uint32(uint32(id)),
			},
			Size: proto.Uint64(uint64(ds.Segsz)),
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
		b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
		if err != nil {
			return fmt.Errorf("System V shared memory %d: %w", id, os.NewSyscallError("shmat", err))
		}
		if huge, err := hugeFlag(b); err != nil || huge != 0 {
			unix.SysvShmDetach(b)
			if err != nil {
				return fmt.Errorf("System V shared memory %d: %w", id, err)
			}
			return fmt.Errorf("%w: System V shared memory %d of an IPC namespace not dumped (the host's) is on huge pages (SHM_HUGETLB), which restore makes only in a namespace of the tree's own", errdefs.ErrUnsupported, id)
		}
		pad := make([]byte, (len(b)+3)&^3-len(b))
		_, err = w.Write(b)
		if err == nil {
			_, err = w.Write(pad)
		}
		unix.SysvShmDetach(b)
		if err != nil {
			return err
		}
	}
	return w.Close()
}

// shmat flags (include/uapi/linux/shm.h); shmDest is in restore.go.
const (
	shmExec = 0o100000 // SHM_EXEC
	// maxSysvShm bounds a segment read from the images.
	maxSysvShm = 1 << 32
)

// Segment is one System V shared memory segment of AttachedImage.
type Segment struct {
	e    *images.IpcShmEntry
	data []byte
}

// ReadAttached reads the segments the tree had attached, with their
// bytes, by shmid, from the host's shm image (CRIU's ipcns-shm layout:
// IpcShmEntry, then the bytes). A missing image is no segment.
func ReadAttached(ctx context.Context, s image.Store) (map[uint32]*Segment, error) {
	name := AttachedImage
	out := map[uint32]*Segment{}
	found, err := image.ReadEach(ctx, s, name, func() *images.IpcShmEntry { return &images.IpcShmEntry{} }, func(e *images.IpcShmEntry, dec *image.Decoder) error {
		if e.GetInPagemaps() || e.GetHugetlbFlag() != 0 {
			return fmt.Errorf("%w: %s: segment %d in pagemaps or hugetlb", errdefs.ErrUnsupported, name, e.GetDesc().GetId())
		}
		size := e.GetSize()
		if size == 0 || size > maxSysvShm {
			return fmt.Errorf("%w: %s: segment of %d bytes", errdefs.ErrBadImage, name, size)
		}
		b, err := dec.Payload(int64((size + 3) &^ 3))
		if err != nil {
			return err
		}
		out[e.GetDesc().GetId()] = &Segment{e: e, data: b[:size]}
		return nil
	})
	if err != nil || !found {
		return nil, err
	}
	return out, nil
}

// MakeAttached makes sure every segment of the images exists with its
// shmid: one still there (with its key and size) is used as it is, its
// bytes being the newest; a missing one is created with its id
// (kernel.shm_next_id), key, mode and bytes. It returns the ids created
// and marked SHM_DEST at dump: they are removed once the tasks attached
// them (RemoveAttached). Created segments are removed on failure.
func MakeAttached(segs map[uint32]*Segment, undo *cleanup.Cleanup) ([]int, error) {
	var dest []int
	for id, sg := range segs {
		d := sg.e.GetDesc()
		var ds unix.SysvShmDesc
		if _, err := unix.SysvShmCtl(int(id), unix.IPC_STAT, &ds); err == nil {
			if uint32(ds.Perm.Key) != d.GetKey() || uint64(ds.Segsz) != sg.e.GetSize() {
				return nil, fmt.Errorf("%w: System V shared memory %d exists with key %#x size %d, dumped key %#x size %d",
					errdefs.ErrUnsupported, id, uint32(ds.Perm.Key), ds.Segsz, d.GetKey(), sg.e.GetSize())
			}
			continue
		}
		if err := os.WriteFile("/proc/sys/kernel/shm_next_id", []byte(strconv.Itoa(int(id))), 0); err != nil {
			return nil, fmt.Errorf("System V shared memory %d: %w", id, err)
		}
		got, err := unix.SysvShmGet(int(int32(d.GetKey())), int(sg.e.GetSize()), unix.IPC_CREAT|unix.IPC_EXCL|int(d.GetMode()&0o777))
		os.WriteFile("/proc/sys/kernel/shm_next_id", []byte("-1"), 0)
		if err != nil {
			return nil, fmt.Errorf("System V shared memory %d (key %#x): %w", id, d.GetKey(), os.NewSyscallError("shmget", err))
		}
		undo.Add(func() { unix.SysvShmCtl(got, unix.IPC_RMID, nil) })
		if got != int(id) {
			return nil, fmt.Errorf("System V shared memory: created %d, want %d", got, id)
		}
		b, err := unix.SysvShmAttach(got, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("System V shared memory %d: %w", id, os.NewSyscallError("shmat", err))
		}
		copy(b, sg.data)
		unix.SysvShmDetach(b)
		var set unix.SysvShmDesc
		set.Perm.Uid, set.Perm.Gid, set.Perm.Mode = d.GetUid(), d.GetGid(), d.GetMode()&0o777
		if _, err := unix.SysvShmCtl(got, unix.IPC_SET, &set); err != nil {
			return nil, fmt.Errorf("System V shared memory %d: %w", id, os.NewSyscallError("shmctl(IPC_SET)", err))
		}
		if d.GetMode()&shmDest != 0 {
			dest = append(dest, got)
		}
	}
	return dest, nil
}

// RemoveAttached marks the segments removed again, now that the tasks
// hold their attaches.
func RemoveAttached(ids []int) error {
	for _, id := range ids {
		if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
			return fmt.Errorf("System V shared memory %d: %w", id, os.NewSyscallError("shmctl(IPC_RMID)", err))
		}
	}
	return nil
}

// Attach attaches segment v.Shmid at the vma's address, inside task t,
// and returns the protection the mapping got. With an IPC namespace of
// the tree's own (ownNs), the segment is one the namespace's images
// recreated there (Restore), found by its shmid in the task's IPC
// namespace; otherwise it is one of segs (ReadAttached).
func Attach(t Task, v *images.VmaEntry, segs map[uint32]*Segment, ownNs bool) (mapProt uint32, err error) {
	size := v.GetEnd() - v.GetStart()
	if !ownNs {
		sg := segs[uint32(v.GetShmid())]
		if sg == nil {
			return 0, fmt.Errorf("%w: mapping %#x of System V shared memory %d, not in %s", errdefs.ErrBadImage, v.GetStart(), v.GetShmid(), AttachedImage)
		}
		size = (sg.e.GetSize() + 4095) &^ 4095
	}
	if v.GetPgoff() != 0 || v.GetEnd()-v.GetStart() != size {
		return 0, fmt.Errorf("%w: mapping %#x-%#x is part of System V shared memory %d", errdefs.ErrUnsupported, v.GetStart(), v.GetEnd(), v.GetShmid())
	}
	var flags uint64
	mapProt = unix.PROT_READ
	if v.GetProt()&unix.PROT_WRITE == 0 {
		flags |= unix.SHM_RDONLY
	} else {
		mapProt |= unix.PROT_WRITE
	}
	if v.GetProt()&unix.PROT_EXEC != 0 {
		flags |= shmExec
		mapProt |= unix.PROT_EXEC
	}
	got, err := t.Sys("shmat", unix.SYS_SHMAT, v.GetShmid(), v.GetStart(), flags)
	if err != nil {
		return mapProt, err
	}
	if got != v.GetStart() {
		return mapProt, fmt.Errorf("shmat %d gave %#x, want %#x", v.GetShmid(), got, v.GetStart())
	}
	return mapProt, nil
}
