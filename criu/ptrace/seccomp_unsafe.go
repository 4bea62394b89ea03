package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxBPFInsns is BPF_MAXINSNS (uapi/linux/bpf_common.h).
const maxBPFInsns = 4096

// seccompGetFilter returns filter idx of tid (PTRACE_SECCOMP_GET_FILTER
// answers with the number of instructions).
func seccompGetFilter(tid, idx int) ([]byte, error) {
	buf := make([]byte, maxBPFInsns*8)
	n, _, e := unix.Syscall6(unix.SYS_PTRACE, reqSeccompGetFilter, uintptr(tid), uintptr(idx), uintptr(unsafe.Pointer(&buf[0])), 0, 0)
	if e != 0 {
		return nil, sysErr("ptrace(SECCOMP_GET_FILTER)", e)
	}
	if n == 0 || n > maxBPFInsns {
		return nil, sysErr("ptrace(SECCOMP_GET_FILTER)", unix.EINVAL)
	}
	return buf[:n*8], nil
}

// seccompGetMetadata returns the flags of filter idx of tid
// (struct seccomp_metadata: filter_off, flags).
func seccompGetMetadata(tid, idx int) (uint64, error) {
	md := [2]uint64{uint64(idx), 0}
	err := rawPtrace(reqSeccompGetMetadata, tid, unsafe.Sizeof(md), uintptr(unsafe.Pointer(&md)))
	return md[1], sysErr("ptrace(SECCOMP_GET_METADATA)", err)
}
