package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Chain returns the filters of the chain whose oldest filter is idx in
// e, in the order they were installed: idx, then its prev (the filter
// installed after it, in CRIU's layout; see Table), and so on to the
// newest, which has no prev. Every prev must name an earlier entry (as
// CRIU and this package write them), so a corrupt image cannot loop.
func Chain(e *images.SeccompEntry, idx uint32) ([]*images.SeccompFilter, error) {
	fs := e.GetSeccompFilters()
	var out []*images.SeccompFilter
	for {
		if int(idx) >= len(fs) {
			return nil, fmt.Errorf("%w: filter %d of %d", ErrBadImage, idx, len(fs))
		}
		f := fs[idx]
		if n := len(f.GetFilter()); n == 0 || n%insnSize != 0 || n/insnSize > maxInsns {
			return nil, fmt.Errorf("%w: filter %d has %d bytes", ErrBadImage, idx, n)
		}
		if f.GetFlags()&^(FlagTSync|FlagLog|FlagSpecAllow) != 0 {
			return nil, fmt.Errorf("%w: filter %d has flags %#x", ErrUnsupported, idx, f.GetFlags())
		}
		out = append(out, f)
		if f.Prev == nil {
			return out, nil
		}
		if f.GetPrev() >= idx {
			return nil, fmt.Errorf("%w: filter %d is followed by filter %d", ErrBadImage, idx, f.GetPrev())
		}
		idx = f.GetPrev()
	}
}

// Injector runs a syscall inside the thread being restored
// (*ptrace.Injector is one).
type Injector interface {
	Syscall(name string, nr uintptr, args ...uint64) (uint64, error)
}

// BufSize is the size of the task memory Install needs for chain: a
// struct sock_fprog and the longest program.
func BufSize(chain []*images.SeccompFilter) uint64 {
	n := 0
	for _, f := range chain {
		n = max(n, len(f.GetFilter()))
	}
	return uint64(linux.SockFprogSize + n)
}

// Install puts a thread in mode with chain (from Chain, in order),
// injecting prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) or one seccomp(
// SECCOMP_SET_MODE_FILTER) per filter. buf is task memory of at least
// BufSize(chain) bytes, written with write. The thread must have its
// seccomp suspended by its tracer (PTRACE_O_SUSPEND_SECCOMP) when a
// chain may block seccomp() itself, and for anything injected after.
func Install(in Injector, write func(addr uint64, b []byte) error, buf uint64, mode uint32, chain []*images.SeccompFilter) error {
	switch mode {
	case ModeDisabled:
		return nil
	case ModeStrict:
		_, err := in.Syscall("prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT)", unix.SYS_PRCTL, unix.PR_SET_SECCOMP, ModeStrict)
		return err
	case ModeFilter:
	default:
		return fmt.Errorf("%w: seccomp mode %d", ErrBadImage, mode)
	}
	if len(chain) == 0 {
		return fmt.Errorf("%w: filter mode without filters", ErrBadImage)
	}
	for i, f := range chain {
		prog := f.GetFilter()
		// The struct sock_fprog, then the instructions it points to.
		fprog := linux.SockFprog{Len: uint16(len(prog) / insnSize), Filter: buf + linux.SockFprogSize}
		b := append(fprog.Bytes(), prog...)
		if err := write(buf, b); err != nil {
			return err
		}
		ret, err := in.Syscall("seccomp(SECCOMP_SET_MODE_FILTER)", unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uint64(f.GetFlags()), buf)
		if err != nil {
			return fmt.Errorf("seccomp filter %d of %d: %w", i+1, len(chain), err)
		}
		if ret != 0 {
			// TSYNC answers with the thread that could not be synced.
			return fmt.Errorf("seccomp filter %d of %d: TSYNC failed on thread %d", i+1, len(chain), ret)
		}
	}
	return nil
}
