package linux

import "encoding/binary"

// encode lays out a fixed-size kernel struct as the kernel reads it:
// native byte order, no padding beyond the blank fields the struct
// spells out (written as zeroes).
func encode(v any) []byte {
	b, err := binary.Append(nil, binary.NativeEndian, v)
	if err != nil {
		panic("linux: encode " + err.Error()) // a struct of fixed-size fields cannot fail
	}
	return b
}

// decode fills v, a pointer to a fixed-size kernel struct, from b; b must
// hold at least binary.Size(v) bytes.
func decode(b []byte, v any) {
	if _, err := binary.Decode(b, binary.NativeEndian, v); err != nil {
		panic("linux: decode " + err.Error())
	}
}

// CloneArgs mirrors struct clone_args (include/uapi/linux/sched.h), up
// to cgroup (CLONE_ARGS_SIZE_VER2).
type CloneArgs struct {
	Flags      uint64
	Pidfd      uint64
	ChildTid   uint64
	ParentTid  uint64
	ExitSignal uint64
	Stack      uint64
	StackSize  uint64
	TLS        uint64
	SetTid     uint64 // address of an array of SetTidSize pids
	SetTidSize uint64
	Cgroup     uint64
}

// CloneArgsSize is sizeof(struct clone_args) as this package knows it,
// CLONE_ARGS_SIZE_VER2: the size argument of clone3.
const CloneArgsSize = 88

// Bytes is a as clone3 reads it, CloneArgsSize bytes.
func (a *CloneArgs) Bytes() []byte { return encode(a) }

// Clone3Args is a as clone3 reads it at address at, followed by its
// set_tid array of one pid (none when pid is 0): the bytes to write at
// at in a task that is made to call clone3(at, CloneArgsSize).
func Clone3Args(a CloneArgs, at uint64, pid int) []byte {
	if pid != 0 {
		a.SetTid, a.SetTidSize = at+CloneArgsSize, 1
	}
	return binary.LittleEndian.AppendUint64(a.Bytes(), uint64(pid))
}

// KSigaction mirrors the struct sigaction that rt_sigaction(2) takes on
// x86_64 (the kernel's struct sigaction, include/linux/signal_types.h
// with arch/x86/include/uapi/asm/signal.h: handler, flags, restorer,
// a 64-bit mask; CRIU's rt_sigaction_t).
type KSigaction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// KSigactionSize is sizeof(struct sigaction) for rt_sigaction on x86_64.
const KSigactionSize = 32

// SigsetSize is the sigsetsize argument of rt_sigaction and
// rt_sigprocmask: a 64-bit mask.
const SigsetSize = 8

// Bytes is s as rt_sigaction reads it, KSigactionSize bytes.
func (s *KSigaction) Bytes() []byte { return encode(s) }

// DecodeKSigaction reads a KSigaction that rt_sigaction wrote to b (at
// least KSigactionSize bytes).
func DecodeKSigaction(b []byte) KSigaction {
	var s KSigaction
	decode(b, &s)
	return s
}

// StackT mirrors stack_t, struct sigaltstack
// (arch/x86/include/uapi/asm/signal.h).
type StackT struct {
	Sp    uint64
	Flags uint32 // SS_ONSTACK, SS_DISABLE, SS_AUTODISARM
	_     uint32
	Size  uint64
}

// StackTSize is sizeof(stack_t).
const StackTSize = 24

// SS_* flags of a StackT (include/uapi/linux/signal.h).
const (
	SS_ONSTACK    = 1
	SS_DISABLE    = 2
	SS_AUTODISARM = 1 << 31
)

// Bytes is s as sigaltstack reads it, StackTSize bytes.
func (s *StackT) Bytes() []byte { return encode(s) }

// DecodeStackT reads a StackT that sigaltstack wrote to b (at least
// StackTSize bytes).
func DecodeStackT(b []byte) StackT {
	var s StackT
	decode(b, &s)
	return s
}

// PrctlMMMap mirrors struct prctl_mm_map (include/uapi/linux/prctl.h),
// the argument of prctl(PR_SET_MM, PR_SET_MM_MAP).
type PrctlMMMap struct {
	StartCode  uint64
	EndCode    uint64
	StartData  uint64
	EndData    uint64
	StartBrk   uint64
	Brk        uint64
	StartStack uint64
	ArgStart   uint64
	ArgEnd     uint64
	EnvStart   uint64
	EnvEnd     uint64
	Auxv       uint64 // address of AuxvSize bytes of auxv
	AuxvSize   uint32
	ExeFd      uint32 // NoExeFd to leave the exe link alone
}

// PrctlMMMapSize is sizeof(struct prctl_mm_map), what
// PR_SET_MM_MAP_SIZE reports.
const PrctlMMMapSize = 104

// NoExeFd in PrctlMMMap.ExeFd keeps the task's exe link ((u32)-1).
const NoExeFd = 0xffffffff

// Bytes is m as PR_SET_MM_MAP reads it, PrctlMMMapSize bytes.
func (m *PrctlMMMap) Bytes() []byte { return encode(m) }

// KcmpEpollSlot mirrors struct kcmp_epoll_slot (include/uapi/linux/kcmp.h).
type KcmpEpollSlot struct {
	Efd  uint32 // the epoll's fd
	Tfd  uint32 // the target's fd number as it was added
	Toff uint32 // which of the targets added with that number
}

// FOwnerEx mirrors struct f_owner_ex (include/uapi/asm-generic/fcntl.h).
type FOwnerEx struct {
	Type int32 // F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP
	Pid  int32
}

// F_OWNER_* types of an FOwnerEx and F_GETOWNER_UIDS
// (include/uapi/asm-generic/fcntl.h, include/uapi/linux/fcntl.h).
const (
	F_OWNER_TID  = 0
	F_OWNER_PID  = 1
	F_OWNER_PGRP = 2
	// F_GETOWNER_UIDS (CONFIG_CHECKPOINT_RESTORE): the real and
	// effective uid that F_SETOWN recorded with the owner.
	F_GETOWNER_UIDS = 17
)

// TFD_IOC_SET_TICKS is _IOW('T', 0, u64) (include/uapi/linux/timerfd.h).
const TFD_IOC_SET_TICKS = 0x40085400

// SockFprog mirrors struct sock_fprog (include/uapi/linux/filter.h), the
// program argument of seccomp(SECCOMP_SET_MODE_FILTER) and of
// SO_ATTACH_FILTER.
type SockFprog struct {
	Len    uint16 // instructions
	_      [6]byte
	Filter uint64 // address of Len struct sock_filter
}

// SockFprogSize is sizeof(struct sock_fprog).
const SockFprogSize = 16

// Bytes is p as the kernel reads it, SockFprogSize bytes.
func (p *SockFprog) Bytes() []byte { return encode(p) }
