package ipcns

import (
	"encoding/binary"
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The 64-bit layouts of the System V IPC structures that semctl(2) and
// msgctl(2) fill (x86_64 needs no IPC_64 flag: every call uses them).

// ipcPerm is struct ipc64_perm (include/uapi/asm-generic/ipcbuf.h).
type ipcPerm struct {
	Key                  int32
	Uid, Gid, Cuid, Cgid uint32
	Mode                 uint32 // __kernel_mode_t: unsigned int on x86_64
	Seq                  uint16
	_                    uint16
	_                    [2]uint64
}

// semidDS is struct semid64_ds (arch/x86/include/uapi/asm/sembuf.h).
type semidDS struct {
	Perm  ipcPerm
	Otime int64
	_     uint64
	Ctime int64
	_     uint64
	Nsems uint64
	_     [2]uint64
}

// msqidDS is struct msqid64_ds (include/uapi/asm-generic/msgbuf.h).
type msqidDS struct {
	Perm                 ipcPerm
	Stime, Rtime, Ctime  int64
	Cbytes, Qnum, Qbytes uint64
	Lspid, Lrpid         int32
	_                    [2]uint64
}

// Commands and flags missing from x/sys/unix
// (include/uapi/linux/{ipc,sem,msg,shm}.h).
const (
	semStatAny = 20
	semInfo    = 19
	msgStatAny = 13
	msgInfo    = 12
	shmStatAny = 15
	shmInfo    = 14
	getAll     = 13
	setAll     = 17
	msgCopy    = 0o40000
)

// sys makes one System V IPC system call, retrying once on EINTR.
func sys(name string, trap, a1, a2, a3, a4, a5 uintptr) (int, error) {
	for try := 0; ; try++ {
		r, _, errno := unix.Syscall6(trap, a1, a2, a3, a4, a5, 0)
		if errno == 0 {
			return int(r), nil
		}
		if errno != unix.EINTR || try > 0 {
			return -1, os.NewSyscallError(name, errno)
		}
	}
}

// ipcInfo makes an *_INFO call (SHM_INFO, MSG_INFO, SEM_INFO) and returns
// the highest index in use and the int32 field at index count of the
// info structure: the number of objects (shm_info.used_ids,
// msginfo.msgpool, seminfo.semusz).
func ipcInfo(name string, trap uintptr, cmd int, count int) (maxIdx, n int, err error) {
	var buf [16]uint64 // larger than shm_info, msginfo and seminfo
	p := uintptr(unsafe.Pointer(&buf))
	if trap == unix.SYS_SEMCTL {
		maxIdx, err = sys(name, trap, 0, 0, uintptr(cmd), p, 0)
	} else {
		maxIdx, err = sys(name, trap, 0, uintptr(cmd), p, 0, 0)
	}
	if err != nil {
		return 0, 0, err
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf)), len(buf)*8)
	return maxIdx, int(int32(binary.NativeEndian.Uint32(b[4*count:]))), nil
}

func shmInfoCall() (int, int, error) {
	return ipcInfo("shmctl(SHM_INFO)", unix.SYS_SHMCTL, shmInfo, 0)
}
func msgInfoCall() (int, int, error) {
	return ipcInfo("msgctl(MSG_INFO)", unix.SYS_MSGCTL, msgInfo, 0)
}
func semInfoCall() (int, int, error) {
	return ipcInfo("semctl(SEM_INFO)", unix.SYS_SEMCTL, semInfo, 7)
}

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
	id, err := unix.SysvShmCtl(idx, shmStatAny, ds)
	return statIndex(id, os.NewSyscallError("shmctl(SHM_STAT_ANY)", err))
}

func semStat(idx int, ds *semidDS) (int, error) {
	return statIndex(sys("semctl(SEM_STAT_ANY)", unix.SYS_SEMCTL, uintptr(idx), 0, semStatAny, uintptr(unsafe.Pointer(ds)), 0))
}

func msgStat(idx int, ds *msqidDS) (int, error) {
	return statIndex(sys("msgctl(MSG_STAT_ANY)", unix.SYS_MSGCTL, uintptr(idx), msgStatAny, uintptr(unsafe.Pointer(ds)), 0, 0))
}

func shmGet(key int32, size, flags int) (int, error) {
	id, err := unix.SysvShmGet(int(key), size, flags)
	return id, os.NewSyscallError("shmget", err)
}

func shmRemove(id int) error {
	_, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	return os.NewSyscallError("shmctl(IPC_RMID)", err)
}

func semGet(key int32, nsems, flags int) (int, error) {
	return sys("semget", unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flags), 0, 0)
}

func semCtlDS(name string, id, cmd int, ds *semidDS) error {
	_, err := sys(name, unix.SYS_SEMCTL, uintptr(id), 0, uintptr(cmd), uintptr(unsafe.Pointer(ds)), 0)
	return err
}

// semValues gets (GETALL) or sets (SETALL) every value of set id.
func semValues(name string, id, cmd int, vals []uint16) error {
	if len(vals) == 0 {
		return nil
	}
	_, err := sys(name, unix.SYS_SEMCTL, uintptr(id), 0, uintptr(cmd), uintptr(unsafe.Pointer(&vals[0])), 0)
	return err
}

func semRemove(id int) error {
	_, err := sys("semctl(IPC_RMID)", unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0)
	return err
}

func msgGet(key int32, flags int) (int, error) {
	return sys("msgget", unix.SYS_MSGGET, uintptr(key), uintptr(flags), 0, 0, 0)
}

func msgCtlDS(name string, id, cmd int, ds *msqidDS) error {
	_, err := sys(name, unix.SYS_MSGCTL, uintptr(id), uintptr(cmd), uintptr(unsafe.Pointer(ds)), 0, 0)
	return err
}

func msgRemove(id int) error {
	_, err := sys("msgctl(IPC_RMID)", unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0, 0, 0)
	return err
}

// msgPeek copies message number idx (from 0, in queue order) of queue id
// without removing it (MSG_COPY). buf holds the message as msgrcv(2)
// fills it: 8 bytes of mtype, then the text; it must have room for the
// largest message. It returns the type and the length of the text.
func msgPeek(id, idx int, buf []byte) (int64, int, error) {
	n, err := sys("msgrcv(MSG_COPY)", unix.SYS_MSGRCV, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)-8),
		uintptr(idx), unix.IPC_NOWAIT|msgCopy)
	if err != nil {
		return 0, 0, err
	}
	return int64(binary.NativeEndian.Uint64(buf)), n, nil
}

// msgSend queues a message: buf is 8 bytes of mtype then the text.
func msgSend(id int, buf []byte) error {
	_, err := sys("msgsnd", unix.SYS_MSGSND, uintptr(id), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)-8), unix.IPC_NOWAIT, 0)
	return err
}

// putMtype stores a message type at the start of a msgsnd buffer.
func putMtype(buf []byte, mtype uint64) { binary.NativeEndian.PutUint64(buf, mtype) }
