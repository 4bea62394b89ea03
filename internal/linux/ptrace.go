package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// ptrace requests missing from x/sys/unix (include/uapi/linux/ptrace.h).
const (
	PTRACE_PEEKSIGINFO            = 0x4209
	PTRACE_GETSIGMASK             = 0x420a
	PTRACE_SETSIGMASK             = 0x420b
	PTRACE_SECCOMP_GET_FILTER     = 0x420c
	PTRACE_SECCOMP_GET_METADATA   = 0x420d
	PTRACE_GET_RSEQ_CONFIGURATION = 0x420f
	PTRACE_PEEKSIGINFO_SHARED     = 1
	BPF_MAXINSNS                  = 4096 // include/uapi/linux/bpf_common.h
	SiginfoSize                   = 128  // sizeof(siginfo_t)
)

// ptrace makes one ptrace request; the tracer thread rules of ptrace(2)
// apply to every Ptrace* function.
func ptrace(req, pid int, addr, data uintptr) (uintptr, error) {
	r, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	return r, errno(e)
}

// PtraceSeize is ptrace(PTRACE_SEIZE) with options opts.
func PtraceSeize(tid, opts int) error {
	_, err := ptrace(unix.PTRACE_SEIZE, tid, 0, uintptr(opts))
	return os.NewSyscallError("ptrace(SEIZE)", err)
}

// PtraceInterrupt is ptrace(PTRACE_INTERRUPT).
func PtraceInterrupt(tid int) error {
	_, err := ptrace(unix.PTRACE_INTERRUPT, tid, 0, 0)
	return os.NewSyscallError("ptrace(INTERRUPT)", err)
}

// PtraceCont is ptrace(PTRACE_CONT) delivering sig (0 for none).
func PtraceCont(tid, sig int) error {
	_, err := ptrace(unix.PTRACE_CONT, tid, 0, uintptr(sig))
	return os.NewSyscallError("ptrace(CONT)", err)
}

// PtraceSingleStep is ptrace(PTRACE_SINGLESTEP).
func PtraceSingleStep(tid int) error {
	_, err := ptrace(unix.PTRACE_SINGLESTEP, tid, 0, 0)
	return os.NewSyscallError("ptrace(SINGLESTEP)", err)
}

// PtraceDetach is ptrace(PTRACE_DETACH) delivering sig (0 for none).
func PtraceDetach(tid, sig int) error {
	_, err := ptrace(unix.PTRACE_DETACH, tid, 0, uintptr(sig))
	return os.NewSyscallError("ptrace(DETACH)", err)
}

// PtraceSetOptions is ptrace(PTRACE_SETOPTIONS).
func PtraceSetOptions(tid, opts int) error {
	_, err := ptrace(unix.PTRACE_SETOPTIONS, tid, 0, uintptr(opts))
	return os.NewSyscallError("ptrace(SETOPTIONS)", err)
}

// RseqConfig mirrors struct ptrace_rseq_configuration
// (include/uapi/linux/ptrace.h).
type RseqConfig struct {
	Pointer   uint64
	Size      uint32
	Signature uint32
	Flags     uint32
	Pad       uint32
}
