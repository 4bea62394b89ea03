package linux

import (
	"encoding/binary"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ipc makes one System V IPC system call, retrying once if interrupted.
func ipc(name string, trap, a1, a2, a3, a4, a5 uintptr) (int, error) {
	r, err := RetryEINTR(Once, func() (uintptr, error) {
		r, _, e := unix.Syscall6(trap, a1, a2, a3, a4, a5, 0)
		return r, errno(e)
	})
	if err != nil {
		return -1, os.NewSyscallError(name, err)
	}
	return int(r), nil
}

// ipcInfo makes an *_INFO call (SHM_INFO, MSG_INFO, SEM_INFO) and returns
// the highest index in use and the int32 field at index count of the
// info structure: the number of objects (shm_info.used_ids,
// msginfo.msgpool, seminfo.semusz).
func ipcInfo(name string, trap uintptr, cmd int, count int) (maxIdx, n int, err error) {
	var buf [16]uint64 // larger than shm_info, msginfo and seminfo
	p := uintptr(unsafe.Pointer(&buf))
	if trap == unix.SYS_SEMCTL {
		maxIdx, err = ipc(name, trap, 0, 0, uintptr(cmd), p, 0)
	} else {
		maxIdx, err = ipc(name, trap, 0, uintptr(cmd), p, 0, 0)
	}
	if err != nil {
		return 0, 0, err
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf)), len(buf)*8)
	return maxIdx, int(int32(binary.NativeEndian.Uint32(b[4*count:]))), nil
}

// ShmctlInfo is shmctl(SHM_INFO): the highest index in use and the
// number of segments.
func ShmctlInfo() (maxIdx, n int, err error) {
	return ipcInfo("shmctl(SHM_INFO)", unix.SYS_SHMCTL, SHM_INFO, 0)
}

// MsgctlInfo is msgctl(MSG_INFO): the highest index in use and the
// number of queues.
func MsgctlInfo() (maxIdx, n int, err error) {
	return ipcInfo("msgctl(MSG_INFO)", unix.SYS_MSGCTL, MSG_INFO, 0)
}

// SemctlInfo is semctl(SEM_INFO): the highest index in use and the
// number of sets.
func SemctlInfo() (maxIdx, n int, err error) {
	return ipcInfo("semctl(SEM_INFO)", unix.SYS_SEMCTL, SEM_INFO, 7)
}

// SemctlStatAny is semctl(idx, SEM_STAT_ANY): the id of the set at index
// idx, its state in ds.
func SemctlStatAny(idx int, ds *SemidDS) (int, error) {
	return ipc("semctl(SEM_STAT_ANY)", unix.SYS_SEMCTL, uintptr(idx), 0, SEM_STAT_ANY, uintptr(unsafe.Pointer(ds)), 0)
}

// MsgctlStatAny is msgctl(idx, MSG_STAT_ANY): the id of the queue at
// index idx, its state in ds.
func MsgctlStatAny(idx int, ds *MsqidDS) (int, error) {
	return ipc("msgctl(MSG_STAT_ANY)", unix.SYS_MSGCTL, uintptr(idx), MSG_STAT_ANY, uintptr(unsafe.Pointer(ds)), 0, 0)
}

// Semget is semget(2).
func Semget(key int32, nsems, flags int) (int, error) {
	return ipc("semget", unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flags), 0, 0)
}

// SemctlDS is semctl(id, cmd) with a struct semid64_ds (IPC_STAT,
// IPC_SET); name names the call in the error.
func SemctlDS(name string, id, cmd int, ds *SemidDS) error {
	_, err := ipc(name, unix.SYS_SEMCTL, uintptr(id), 0, uintptr(cmd), uintptr(unsafe.Pointer(ds)), 0)
	return err
}

// SemctlValues gets (GETALL) or sets (SETALL) every value of set id;
// name names the call in the error.
func SemctlValues(name string, id, cmd int, vals []uint16) error {
	if len(vals) == 0 {
		return nil
	}
	_, err := ipc(name, unix.SYS_SEMCTL, uintptr(id), 0, uintptr(cmd), uintptr(unsafe.Pointer(&vals[0])), 0)
	return err
}

// SemctlRemove is semctl(id, IPC_RMID).
func SemctlRemove(id int) error {
	_, err := ipc("semctl(IPC_RMID)", unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0)
	return err
}

// Msgget is msgget(2).
func Msgget(key int32, flags int) (int, error) {
	return ipc("msgget", unix.SYS_MSGGET, uintptr(key), uintptr(flags), 0, 0, 0)
}

// MsgctlDS is msgctl(id, cmd) with a struct msqid64_ds (IPC_STAT,
// IPC_SET); name names the call in the error.
func MsgctlDS(name string, id, cmd int, ds *MsqidDS) error {
	_, err := ipc(name, unix.SYS_MSGCTL, uintptr(id), uintptr(cmd), uintptr(unsafe.Pointer(ds)), 0, 0)
	return err
}

// MsgctlRemove is msgctl(id, IPC_RMID).
func MsgctlRemove(id int) error {
	_, err := ipc("msgctl(IPC_RMID)", unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0, 0, 0)
	return err
}

// MsgrcvCopy is msgrcv(id, MSG_COPY|IPC_NOWAIT): it copies message number
// idx (from 0, in queue order) of queue id without removing it. buf holds
// the message as msgrcv(2) fills it: 8 bytes of mtype, then the text; it
// must have room for the largest message. It returns the type and the
// length of the text.
func MsgrcvCopy(id, idx int, buf []byte) (int64, int, error) {
	n, err := ipc("msgrcv(MSG_COPY)", unix.SYS_MSGRCV, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)-8),
		uintptr(idx), unix.IPC_NOWAIT|MSG_COPY)
	if err != nil {
		return 0, 0, err
	}
	return int64(binary.NativeEndian.Uint64(buf)), n, nil
}

// Msgsnd is msgsnd(id, IPC_NOWAIT): buf is 8 bytes of mtype then the text.
func Msgsnd(id int, buf []byte) error {
	_, err := ipc("msgsnd", unix.SYS_MSGSND, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)-8), unix.IPC_NOWAIT, 0)
	return err
}
