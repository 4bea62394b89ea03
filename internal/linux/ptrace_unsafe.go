package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PtraceGetRegSet is ptrace(PTRACE_GETREGSET) of regset nt into buf; it
// returns how many bytes the kernel filled.
func PtraceGetRegSet(tid, nt int, buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	_, err := ptrace(unix.PTRACE_GETREGSET, tid, uintptr(nt), uintptr(unsafe.Pointer(&iov)))
	return int(iov.Len), os.NewSyscallError("ptrace(GETREGSET)", err)
}

// PtraceSetRegSet is ptrace(PTRACE_SETREGSET) of regset nt from buf.
func PtraceSetRegSet(tid, nt int, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	_, err := ptrace(unix.PTRACE_SETREGSET, tid, uintptr(nt), uintptr(unsafe.Pointer(&iov)))
	return os.NewSyscallError("ptrace(SETREGSET)", err)
}

// PtraceGetSigmask is ptrace(PTRACE_GETSIGMASK).
func PtraceGetSigmask(tid int) (uint64, error) {
	var m uint64
	_, err := ptrace(PTRACE_GETSIGMASK, tid, 8, uintptr(unsafe.Pointer(&m)))
	return m, os.NewSyscallError("ptrace(GETSIGMASK)", err)
}

// PtraceSetSigmask is ptrace(PTRACE_SETSIGMASK).
func PtraceSetSigmask(tid int, m uint64) error {
	_, err := ptrace(PTRACE_SETSIGMASK, tid, 8, uintptr(unsafe.Pointer(&m)))
	return os.NewSyscallError("ptrace(SETSIGMASK)", err)
}

// PtraceGetRseqConfig is ptrace(PTRACE_GET_RSEQ_CONFIGURATION).
func PtraceGetRseqConfig(tid int) (RseqConfig, error) {
	var c RseqConfig
	_, err := ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)))
	return c, os.NewSyscallError("ptrace(GET_RSEQ_CONFIGURATION)", err)
}

// peekSiginfoArgs mirrors struct ptrace_peeksiginfo_args
// (include/uapi/linux/ptrace.h).
type peekSiginfoArgs struct {
	Off   uint64
	Flags uint32
	Nr    int32
}

// PtracePeekSiginfo is ptrace(PTRACE_PEEKSIGINFO): it copies into buf the
// siginfos of tid's queue (the shared one if shared) from number off on,
// and returns how many it copied (0: none left).
func PtracePeekSiginfo(tid int, shared bool, off int, buf [][SiginfoSize]byte) (int, error) {
	a := peekSiginfoArgs{Off: uint64(off), Nr: int32(len(buf))}
	if shared {
		a.Flags = PTRACE_PEEKSIGINFO_SHARED
	}
	r, _, e := unix.Syscall6(unix.SYS_PTRACE, PTRACE_PEEKSIGINFO, uintptr(tid), uintptr(unsafe.Pointer(&a)), uintptr(unsafe.Pointer(&buf[0])), 0, 0)
	if e != 0 {
		return 0, os.NewSyscallError("ptrace(PEEKSIGINFO)", e)
	}
	return int(r), nil
}

// PtraceSeccompGetFilter is ptrace(PTRACE_SECCOMP_GET_FILTER): it copies
// filter idx of tid into buf (room for BPF_MAXINSNS instructions of
// struct sock_filter, 8 bytes each) and returns the number of
// instructions.
func PtraceSeccompGetFilter(tid, idx int, buf []byte) (int, error) {
	n, err := ptrace(PTRACE_SECCOMP_GET_FILTER, tid, uintptr(idx), uintptr(unsafe.Pointer(&buf[0])))
	return int(n), os.NewSyscallError("ptrace(SECCOMP_GET_FILTER)", err)
}

// seccompMetadata mirrors struct seccomp_metadata
// (include/uapi/linux/ptrace.h).
type seccompMetadata struct {
	FilterOff uint64
	Flags     uint64
}

// PtraceSeccompGetMetadata is ptrace(PTRACE_SECCOMP_GET_METADATA): the
// flags of filter idx of tid.
func PtraceSeccompGetMetadata(tid, idx int) (uint64, error) {
	md := seccompMetadata{FilterOff: uint64(idx)}
	_, err := ptrace(PTRACE_SECCOMP_GET_METADATA, tid, unsafe.Sizeof(md), uintptr(unsafe.Pointer(&md)))
	return md.Flags, os.NewSyscallError("ptrace(SECCOMP_GET_METADATA)", err)
}

// GetRobustList is get_robust_list(2) of tid: the head and its length.
func GetRobustList(tid int) (head uint64, size uint64, err error) {
	_, _, e := unix.Syscall(unix.SYS_GET_ROBUST_LIST, uintptr(tid), uintptr(unsafe.Pointer(&head)), uintptr(unsafe.Pointer(&size)))
	if e != 0 {
		return 0, 0, os.NewSyscallError("get_robust_list", e)
	}
	return head, size, nil
}
