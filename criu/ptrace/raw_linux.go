package ptrace

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Raw wrappers. They must run on the tracer thread.

// ptrace request numbers missing from x/sys/unix or named here for clarity.
const (
	reqGetSigmask     = 0x420a
	reqSetSigmask     = 0x420b
	reqPeekSiginfo    = 0x4209
	reqGetRseqConfig  = 0x420f
	ntX86Xstate       = 0x202
	peekSiginfoShared = 1
	eventStop         = 128
	siginfoSize       = 128
)

// Options set at seize: kill the tracee if the tracer dies mid-injection
// would lose the task, so dump does NOT set EXITKILL; restore does.
const (
	OptTraceClone = unix.PTRACE_O_TRACECLONE
	OptExitKill   = unix.PTRACE_O_EXITKILL
	OptSysGood    = unix.PTRACE_O_TRACESYSGOOD
)

func eintr(f func() error) error {
	err := f()
	if err == unix.EINTR {
		err = f()
	}
	return err
}

func sysErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(name, err)
}

func rawPtrace(req, pid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
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
	var err error
	for {
		_, err = unix.Wait4(tid, &ws, unix.WALL, nil)
		if err != unix.EINTR {
			break
		}
	}
	return Status{ws}, sysErr("wait4", err)
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

func seize(tid int, opts int) error {
	return sysErr("ptrace(SEIZE)", rawPtrace(unix.PTRACE_SEIZE, tid, 0, uintptr(opts)))
}

func kill(pid int, sig syscall.Signal) error { return sysErr("kill", unix.Kill(pid, sig)) }
