package ptrace

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// The ptrace requests themselves are internal/linux's (PtraceSeize,
// PtraceGetRegSet, ...). They must run on the tracer thread.

// Facts of ptrace and of the x86 regsets that this package uses.
const (
	ntX86Xstate = 0x202 // NT_X86_XSTATE (include/uapi/linux/elf.h)
	eventStop   = 128   // PTRACE_EVENT_STOP
)

// Options set at seize: kill the tracee if the tracer dies mid-injection
// would lose the task, so dump does NOT set EXITKILL; restore does.
const (
	OptTraceClone = unix.PTRACE_O_TRACECLONE
	OptExitKill   = unix.PTRACE_O_EXITKILL
	OptSysGood    = unix.PTRACE_O_TRACESYSGOOD
)

// RseqConfig mirrors struct ptrace_rseq_configuration (uapi/linux/ptrace.h).
type RseqConfig = linux.RseqConfig

func sysErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(name, err)
}

// Status is a wait4 status with the ptrace event decoded.
type Status struct {
	unix.WaitStatus
}

// Event is the PTRACE_EVENT_* of a stop, 0 if none.
func (s Status) Event() int { return int(s.WaitStatus>>16) & 0xff }

// wait waits for tid (any state) with __WALL.
func wait(tid int) (Status, error) {
	var ws unix.WaitStatus
	_, err := linux.Wait4(tid, &ws, unix.WALL)
	return Status{ws}, err
}

// exitedNohang reaps tid if it has exited, without blocking; a stop it
// reports instead is consumed. A tid that is gone counts as exited.
func exitedNohang(tid int) bool {
	var ws unix.WaitStatus
	got, err := unix.Wait4(tid, &ws, unix.WALL|unix.WNOHANG, nil)
	switch {
	case err == unix.EINTR:
		return false
	case err != nil:
		return true
	}
	return got == tid && (ws.Exited() || ws.Signaled())
}

func seize(tid int, opts int) error { return linux.PtraceSeize(tid, opts) }

func kill(pid int, sig syscall.Signal) error { return sysErr("kill", unix.Kill(pid, sig)) }

// peekSiginfo returns the queued siginfos of tid (shared queue if shared).
func peekSiginfo(tid int, shared bool) ([][linux.SiginfoSize]byte, error) {
	var out [][linux.SiginfoSize]byte
	buf := make([][linux.SiginfoSize]byte, 32)
	for {
		n, err := linux.PtracePeekSiginfo(tid, shared, len(out), buf)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}
