package dump

import (
	"context"
	"fmt"
	"os"
	"sort"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// SysvShmImage is the image of the System V shared memory segments the
// tree attached. CRIU writes ipcns-shm-<ipc ns id>.img when it dumps an
// IPC namespace; the tree's namespace is the host's here, not dumped,
// and 0 stands for it.
const SysvShmImage = "ipcns-shm-0.img"

// sysvSet is the shmids attached by tasks of the tree.
type sysvSet struct{ ids map[int]bool }

func (s *sysvSet) add(id int) {
	if s.ids == nil {
		s.ids = map[int]bool{}
	}
	s.ids[id] = true
}

// write saves each segment: its key, owner, mode (with SHM_DEST when it
// was removed and lives on only while attached), size and bytes, read
// through an attach of the dumper's own.
func (s *sysvSet) write(ctx context.Context, st image.Store) (err error) {
	if len(s.ids) == 0 {
		return nil
	}
	ids := make([]int, 0, len(s.ids))
	for id := range s.ids {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	w, err := st.Create(ctx, SysvShmImage)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	enc, err := image.NewEncoder(w, SysvShmImage)
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
