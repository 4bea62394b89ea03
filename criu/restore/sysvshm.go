package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/cleanup"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// System V shm mode bits and shmat flags (include/uapi/linux/shm.h).
const (
	shmDest = 0o1000   // removed, lives on while attached
	shmExec = 0o100000 // SHM_EXEC
	// maxSysvShm bounds a segment read from the images.
	maxSysvShm = 1 << 32
)

// sysvSeg is one System V shared memory segment of the images.
type sysvSeg struct {
	e    *images.IpcShmEntry
	data []byte
}

// readSysvShm reads the segments the tree had attached, with their
// bytes, by shmid, from the host's shm image (CRIU's ipcns-shm layout:
// IpcShmEntry, then the bytes). A missing image is no segment.
func readSysvShm(ctx context.Context, s image.Store) (map[uint32]*sysvSeg, error) {
	name := dump.SysvShmImage
	rd, err := s.Open(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	dec, err := image.NewDecoder(bufio.NewReader(rd), name)
	if err != nil {
		return nil, err
	}
	out := map[uint32]*sysvSeg{}
	for {
		e := &images.IpcShmEntry{}
		err := dec.Decode(e)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if e.GetInPagemaps() || e.GetHugetlbFlag() != 0 {
			return nil, fmt.Errorf("%w: %s: segment %d in pagemaps or hugetlb", ErrUnsupported, name, e.GetDesc().GetId())
		}
		size := e.GetSize()
		if size == 0 || size > maxSysvShm {
			return nil, fmt.Errorf("%w: %s: segment of %d bytes", ErrBadImage, name, size)
		}
		w := &sliceWriter{b: make([]byte, 0, (size+3)&^3)}
		if err := dec.CopyPayload(w, int64((size+3)&^3)); err != nil {
			return nil, err
		}
		out[e.GetDesc().GetId()] = &sysvSeg{e: e, data: w.b[:size]}
	}
}

// makeSysvShm makes sure every segment of the images exists with its
// shmid: one still there (with its key and size) is used as it is, its
// bytes being the newest; a missing one is created with its id
// (kernel.shm_next_id), key, mode and bytes. It returns the ids created
// and marked SHM_DEST at dump: they are removed once the tasks attached
// them (removeSysvShm). Created segments are removed on failure.
func (t *treeRestorer) makeSysvShm(undo *cleanup.Cleanup) ([]int, error) {
	var dest []int
	for id, sg := range t.ti.sysv {
		d := sg.e.GetDesc()
		var ds unix.SysvShmDesc
		if _, err := unix.SysvShmCtl(int(id), unix.IPC_STAT, &ds); err == nil {
			if uint32(ds.Perm.Key) != d.GetKey() || uint64(ds.Segsz) != sg.e.GetSize() {
				return nil, fmt.Errorf("%w: System V shared memory %d exists with key %#x size %d, dumped key %#x size %d",
					ErrUnsupported, id, uint32(ds.Perm.Key), ds.Segsz, d.GetKey(), sg.e.GetSize())
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

// removeSysvShm marks the segments removed again, now that the tasks
// hold their attaches.
func removeSysvShm(ids []int) error {
	for _, id := range ids {
		if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
			return fmt.Errorf("System V shared memory %d: %w", id, os.NewSyscallError("shmctl(IPC_RMID)", err))
		}
	}
	return nil
}

// attachSysv attaches segment v.Shmid at the vma's address, inside the
// task. With an ipc namespace of the tree's own, the segment is one the
// namespace's images recreated there (ns.go), found by its shmid in the
// task's ipc namespace; otherwise it is one of sysvshm's.
func (r *restorer) attachSysv(v *images.VmaEntry, vm *vmap) error {
	size := v.GetEnd() - v.GetStart()
	if r.t.mask&unix.CLONE_NEWIPC == 0 {
		sg := r.t.ti.sysv[uint32(v.GetShmid())]
		if sg == nil {
			return fmt.Errorf("%w: mapping %#x of System V shared memory %d, not in %s", ErrBadImage, v.GetStart(), v.GetShmid(), dump.SysvShmImage)
		}
		size = (sg.e.GetSize() + 4095) &^ 4095
	}
	if v.GetPgoff() != 0 || v.GetEnd()-v.GetStart() != size {
		return fmt.Errorf("%w: mapping %#x-%#x is part of System V shared memory %d", ErrUnsupported, v.GetStart(), v.GetEnd(), v.GetShmid())
	}
	var flags uint64
	vm.mapProt = unix.PROT_READ
	if v.GetProt()&unix.PROT_WRITE == 0 {
		flags |= unix.SHM_RDONLY
	} else {
		vm.mapProt |= unix.PROT_WRITE
	}
	if v.GetProt()&unix.PROT_EXEC != 0 {
		flags |= shmExec
		vm.mapProt |= unix.PROT_EXEC
	}
	got, err := r.sys("shmat", unix.SYS_SHMAT, v.GetShmid(), v.GetStart(), flags)
	if err != nil {
		return err
	}
	if got != v.GetStart() {
		return fmt.Errorf("shmat %d gave %#x, want %#x", v.GetShmid(), got, v.GetStart())
	}
	return nil
}
