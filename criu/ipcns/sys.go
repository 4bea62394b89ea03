package ipcns

import (
	"encoding/binary"
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// The System V IPC calls are internal/linux's (Semget, MsgctlDS, ...);
// what is here turns their answers into this package's terms.

// errNoIndex is returned by the *Stat calls for an index not in use.
var errNoIndex = errors.New("no object at this index")

// statIndex turns the EINVAL of an *_STAT_ANY call at an unused index
// into errNoIndex.
func statIndex(id int, err error) (int, error) {
	if errors.Is(err, unix.EINVAL) {
		return -1, errNoIndex
	}
	return id, err
}

func shmStat(idx int, ds *unix.SysvShmDesc) (int, error) {
	id, err := unix.SysvShmCtl(idx, linux.SHM_STAT_ANY, ds)
	return statIndex(id, os.NewSyscallError("shmctl(SHM_STAT_ANY)", err))
}

func semStat(idx int, ds *linux.SemidDS) (int, error) {
	return statIndex(linux.SemctlStatAny(idx, ds))
}

func msgStat(idx int, ds *linux.MsqidDS) (int, error) {
	return statIndex(linux.MsgctlStatAny(idx, ds))
}

func shmGet(key int32, size, flags int) (int, error) {
	id, err := unix.SysvShmGet(int(key), size, flags)
	return id, os.NewSyscallError("shmget", err)
}

func shmRemove(id int) error {
	_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	return os.NewSyscallError("shmctl(IPC_RMID)", err)
}

// putMtype stores a message type at the start of a msgsnd buffer.
func putMtype(buf []byte, mtype uint64) { binary.NativeEndian.PutUint64(buf, mtype) }
