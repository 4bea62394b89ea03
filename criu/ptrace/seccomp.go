package ptrace

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// Seccomp requests and options (uapi/linux/ptrace.h).
const (
	// OptSuspendSeccomp (PTRACE_O_SUSPEND_SECCOMP) lets the tracee's
	// syscalls pass its seccomp filters or strict mode while it is
	// traced; it ends when the tracer detaches. Setting it needs
	// CAP_SYS_ADMIN and a tracer that is not itself under seccomp.
	OptSuspendSeccomp = 1 << 21
)

// ErrNoFilter is returned by SeccompFilter for an index past the newest
// filter of the thread's chain.
var ErrNoFilter = errors.New("ptrace: no seccomp filter at that index")

// SeccompFilter returns the BPF program (struct sock_filter[], 8 bytes
// an instruction) of tid's seccomp filter number idx, counted from the
// oldest (0, the first installed) to the newest, and its
// SECCOMP_FILTER_FLAG_* flags as the kernel keeps them (only LOG is
// kept). Past the newest it returns ErrNoFilter. tid must be stopped by
// this tracer.
func (t *Tracer) SeccompFilter(tid, idx int) (prog []byte, flags uint64, err error) {
	err = t.Do(func() error {
		var e error
		prog, e = seccompGetFilter(tid, idx)
		if errors.Is(e, unix.ENOENT) {
			return ErrNoFilter
		}
		if e != nil {
			return fmt.Errorf("seccomp filter %d of %d: %w", idx, tid, e)
		}
		flags, e = linux.PtraceSeccompGetMetadata(tid, idx)
		if e != nil {
			return fmt.Errorf("seccomp filter %d of %d: %w", idx, tid, e)
		}
		return nil
	})
	return prog, flags, err
}

// seccompGetFilter returns filter idx of tid (PTRACE_SECCOMP_GET_FILTER
// answers with the number of instructions).
func seccompGetFilter(tid, idx int) ([]byte, error) {
	buf := make([]byte, linux.BPF_MAXINSNS*8)
	n, err := linux.PtraceSeccompGetFilter(tid, idx, buf)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > linux.BPF_MAXINSNS {
		return nil, sysErr("ptrace(SECCOMP_GET_FILTER)", unix.EINVAL)
	}
	return buf[:n*8], nil
}
