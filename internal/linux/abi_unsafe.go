package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Clone3 is clone3(2) in this process with size bytes of args. A clone3
// that succeeds returns in a child that has only the calling thread of
// the Go runtime: use it only for calls expected to fail (a probe for
// the size the kernel takes), and clone tasks by injecting clone3 into
// a tracee with args.Bytes() instead.
func Clone3(args *CloneArgs, size uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(args)), size, 0)
	if e != 0 {
		return -1, os.NewSyscallError("clone3", e)
	}
	return int(r), nil
}

// RtSigaction is rt_sigaction(2) in this process: act (nil to leave it)
// becomes the action of sig, old (if not nil) receives the previous one.
// The Go runtime owns this process's signal handlers: for tests and
// probes only.
func RtSigaction(sig int, act, old *KSigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), SigsetSize, 0, 0)
	return os.NewSyscallError("rt_sigaction", errno(e))
}

// Sigaltstack is sigaltstack(2) for the calling thread: ss (nil to leave
// it) becomes the alternate signal stack, old (if not nil) receives the
// previous one.
func Sigaltstack(ss, old *StackT) error {
	_, _, e := unix.RawSyscall(unix.SYS_SIGALTSTACK, uintptr(unsafe.Pointer(ss)), uintptr(unsafe.Pointer(old)), 0)
	return os.NewSyscallError("sigaltstack", errno(e))
}

// PrctlGetMMMapSize is prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE): the size of
// struct prctl_mm_map the kernel takes.
func PrctlGetMMMapSize() (uint32, error) {
	var size uint32
	if err := unix.Prctl(unix.PR_SET_MM, unix.PR_SET_MM_MAP_SIZE, uintptr(unsafe.Pointer(&size)), 0, 0); err != nil {
		return 0, os.NewSyscallError("prctl(PR_SET_MM_MAP_SIZE)", err)
	}
	return size, nil
}

// PrctlSetMMMap is prctl(PR_SET_MM, PR_SET_MM_MAP) in this process.
func PrctlSetMMMap(m *PrctlMMMap) error {
	err := unix.Prctl(unix.PR_SET_MM, unix.PR_SET_MM_MAP, uintptr(unsafe.Pointer(m)), PrctlMMMapSize, 0)
	return os.NewSyscallError("prctl(PR_SET_MM_MAP)", err)
}

// PrctlGetChildSubreaper is prctl(PR_GET_CHILD_SUBREAPER) in this
// process.
func PrctlGetChildSubreaper() (bool, error) {
	var v int32
	_, _, e := unix.Syscall6(unix.SYS_PRCTL, unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&v)), 0, 0, 0, 0)
	if e != 0 {
		return false, os.NewSyscallError("prctl(PR_GET_CHILD_SUBREAPER)", e)
	}
	return v != 0, nil
}

// KcmpEpollTfd is kcmp(pid1, pid2, KCMP_EPOLL_TFD, fd, slot), retried once
// if interrupted: whether fd of pid1 is the file that the epoll
// slot.Efd of pid2 watches as target slot.Tfd.
func KcmpEpollTfd(pid1, pid2, fd int, slot KcmpEpollSlot) (bool, error) {
	r, err := RetryEINTR(Once, func() (uintptr, error) {
		r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), KCMP_EPOLL_TFD, uintptr(fd), uintptr(unsafe.Pointer(&slot)), 0)
		return r, errno(e)
	})
	if err != nil {
		return false, os.NewSyscallError("kcmp(KCMP_EPOLL_TFD)", err)
	}
	return r == 0, nil
}

// FcntlGetOwnerEx is fcntl(F_GETOWN_EX): the owner of the open file fd,
// its pid as seen from this process's pid namespace.
func FcntlGetOwnerEx(fd int) (FOwnerEx, error) {
	var own FOwnerEx
	if _, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETOWN_EX, uintptr(unsafe.Pointer(&own))); e != 0 {
		return own, os.NewSyscallError("fcntl(F_GETOWN_EX)", e)
	}
	return own, nil
}

// FcntlGetOwnerUids is fcntl(F_GETOWNER_UIDS): the real and effective
// uid that F_SETOWN recorded with the owner of fd.
func FcntlGetOwnerUids(fd int) (uid, euid uint32, err error) {
	var v [2]uint32
	if _, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), F_GETOWNER_UIDS, uintptr(unsafe.Pointer(&v))); e != 0 {
		return 0, 0, os.NewSyscallError("fcntl(F_GETOWNER_UIDS)", e)
	}
	return v[0], v[1], nil
}

// GetsockoptSockFilter is getsockopt(SOL_SOCKET, SO_GET_FILTER), retried
// once if interrupted: it copies the classic BPF filter attached to fd
// into f and returns its length in instructions. With an empty f it only
// returns the length (0: no filter).
func GetsockoptSockFilter(fd int, f []unix.SockFilter) (int, error) {
	var p unsafe.Pointer
	l := uint32(len(f)) * uint32(unsafe.Sizeof(unix.SockFilter{}))
	if len(f) > 0 {
		p = unsafe.Pointer(&f[0])
	}
	err := retryErr(Once, func() error {
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_GET_FILTER, uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
		return errno(e)
	})
	if err != nil {
		return 0, os.NewSyscallError("getsockopt(SO_GET_FILTER)", err)
	}
	return int(l), nil // in instructions
}

// GetsockoptNetlinkGroups is getsockopt(SOL_NETLINK,
// NETLINK_LIST_MEMBERSHIPS), retried once if interrupted: it copies the
// bitmap of the multicast groups the netlink socket fd joined (group N
// is bit N-1 of the u32 words) into w and returns the words the whole
// bitmap needs, which may be more than len(w).
func GetsockoptNetlinkGroups(fd int, w []uint32) (int, error) {
	var p unsafe.Pointer
	l := uint32(len(w)) * 4
	if len(w) > 0 {
		p = unsafe.Pointer(&w[0])
	}
	err := retryErr(Once, func() error {
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_NETLINK, unix.NETLINK_LIST_MEMBERSHIPS, uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
		return errno(e)
	})
	if err != nil {
		return 0, os.NewSyscallError("getsockopt(NETLINK_LIST_MEMBERSHIPS)", err)
	}
	return int(l / 4), nil
}

// TimerfdSetTicks is ioctl(TFD_IOC_SET_TICKS): the expirations the
// timerfd fd has not reported yet.
func TimerfdSetTicks(fd int, ticks uint64) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), TFD_IOC_SET_TICKS, uintptr(unsafe.Pointer(&ticks)))
	return os.NewSyscallError("ioctl(TFD_IOC_SET_TICKS)", errno(e))
}

// SliceAddr is the address of the first byte of b's array (of where it
// would be for an empty b), for alignment checks and for telling the
// kernel about a mapping criu made.
func SliceAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// pidfdInfo is struct pidfd_info of linux/pidfd.h up to exit_code, its
// first version (PIDFD_INFO_SIZE_VER0, 64 bytes).
type pidfdInfo struct {
	Mask     uint64
	Cgroupid uint64
	IDs      [11]uint32 // pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid
	ExitCode int32
}

const (
	pidfdGetInfo  = 0xc040ff0b // PIDFD_GET_INFO: _IOWR(0xFF, 11, struct pidfd_info of 64 bytes)
	pidfdInfoExit = 1 << 3     // PIDFD_INFO_EXIT
)

// PidfdExitStatus is ioctl(PIDFD_GET_INFO) with PIDFD_INFO_EXIT on pidfd
// fd: the wait status of its task once it has been reaped (Linux 6.15).
// ok is false when the kernel has none to tell (the task not reaped, or a
// kernel without it).
func PidfdExitStatus(fd int) (status int, ok bool, err error) {
	info := pidfdInfo{Mask: pidfdInfoExit}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), pidfdGetInfo, uintptr(unsafe.Pointer(&info)))
	switch e {
	case 0:
	case unix.ENOTTY, unix.EINVAL, unix.ESRCH:
		return 0, false, nil
	default:
		return 0, false, os.NewSyscallError("ioctl(PIDFD_GET_INFO)", e)
	}
	if info.Mask&pidfdInfoExit == 0 {
		return 0, false, nil
	}
	return int(info.ExitCode), true, nil
}
