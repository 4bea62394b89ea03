package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func getRegSet(tid int, nt int, buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	err := rawPtrace(unix.PTRACE_GETREGSET, tid, uintptr(nt), uintptr(unsafe.Pointer(&iov)))
	return int(iov.Len), sysErr("ptrace(GETREGSET)", err)
}

func setRegSet(tid int, nt int, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	return sysErr("ptrace(SETREGSET)", rawPtrace(unix.PTRACE_SETREGSET, tid, uintptr(nt), uintptr(unsafe.Pointer(&iov))))
}

func getSigmask(tid int) (uint64, error) {
	var m uint64
	err := rawPtrace(reqGetSigmask, tid, 8, uintptr(unsafe.Pointer(&m)))
	return m, sysErr("ptrace(GETSIGMASK)", err)
}

func setSigmask(tid int, m uint64) error {
	return sysErr("ptrace(SETSIGMASK)", rawPtrace(reqSetSigmask, tid, 8, uintptr(unsafe.Pointer(&m))))
}

// RseqConfig mirrors struct ptrace_rseq_configuration (uapi/linux/ptrace.h).
type RseqConfig struct {
	Pointer   uint64
	Size      uint32
	Signature uint32
	Flags     uint32
	Pad       uint32
}

func getRseq(tid int) (RseqConfig, error) {
	var c RseqConfig
	err := rawPtrace(reqGetRseqConfig, tid, unsafe.Sizeof(c), uintptr(unsafe.Pointer(&c)))
	return c, sysErr("ptrace(GET_RSEQ_CONFIGURATION)", err)
}

// peekSiginfo returns the queued siginfos of tid (shared queue if shared).
func peekSiginfo(tid int, shared bool) ([][siginfoSize]byte, error) {
	type args struct {
		Off   uint64
		Flags uint32
		Nr    int32
	}
	var out [][siginfoSize]byte
	buf := make([][siginfoSize]byte, 32)
	for {
		a := args{Off: uint64(len(out)), Nr: int32(len(buf))}
		if shared {
			a.Flags = peekSiginfoShared
		}
		r, _, e := unix.Syscall6(unix.SYS_PTRACE, reqPeekSiginfo, uintptr(tid), uintptr(unsafe.Pointer(&a)), uintptr(unsafe.Pointer(&buf[0])), 0, 0)
		if e != 0 {
			return nil, sysErr("ptrace(PEEKSIGINFO)", e)
		}
		if r == 0 {
			return out, nil
		}
		out = append(out, buf[:r]...)
	}
}

// getRobustList calls get_robust_list(tid).
func getRobustList(tid int) (head uint64, size uint64, err error) {
	_, _, e := unix.Syscall(unix.SYS_GET_ROBUST_LIST, uintptr(tid), uintptr(unsafe.Pointer(&head)), uintptr(unsafe.Pointer(&size)))
	if e != 0 {
		return 0, 0, sysErr("get_robust_list", e)
	}
	return head, size, nil
}
