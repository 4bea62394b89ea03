package linux

// The 64-bit layouts of the System V IPC structures that semctl(2) and
// msgctl(2) fill (x86_64 needs no IPC_64 flag: every call uses them).

// IpcPerm mirrors struct ipc64_perm (include/uapi/asm-generic/ipcbuf.h).
type IpcPerm struct {
	Key                  int32
	Uid, Gid, Cuid, Cgid uint32
	Mode                 uint32 // __kernel_mode_t: unsigned int on x86_64
	Seq                  uint16
	_                    uint16
	_                    [2]uint64
}

// SemidDS mirrors struct semid64_ds (arch/x86/include/uapi/asm/sembuf.h).
type SemidDS struct {
	Perm  IpcPerm
	Otime int64
	_     uint64
	Ctime int64
	_     uint64
	Nsems uint64
	_     [2]uint64
}

// MsqidDS mirrors struct msqid64_ds (include/uapi/asm-generic/msgbuf.h).
type MsqidDS struct {
	Perm                 IpcPerm
	Stime, Rtime, Ctime  int64
	Cbytes, Qnum, Qbytes uint64
	Lspid, Lrpid         int32
	_                    [2]uint64
}

// Commands and flags missing from x/sys/unix
// (include/uapi/linux/{ipc,sem,msg,shm}.h).
const (
	SEM_STAT_ANY = 20
	SEM_INFO     = 19
	MSG_STAT_ANY = 13
	MSG_INFO     = 12
	SHM_STAT_ANY = 15
	SHM_INFO     = 14
	GETALL       = 13
	SETALL       = 17
	MSG_COPY     = 0o40000
)
