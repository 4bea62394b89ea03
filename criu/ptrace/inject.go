package ptrace

import (
	"bytes"
	"fmt"

	"golang.org/x/sys/unix"
)

// SyscallInsn finds a `syscall` instruction (0f 05) in the bytes of a
// [vdso] mapped at start.
func SyscallInsn(start uint64, vdso []byte) (uint64, error) {
	i := bytes.Index(vdso, []byte{0x0f, 0x05})
	if i < 0 {
		return 0, ErrNoSyscallInsn
	}
	return start + uint64(i), nil
}

// Injector runs syscalls inside one stopped thread. Base is the register
// template each call starts from; the caller puts the thread's real
// registers back with SetRegs when done (Injector never does).
type Injector struct {
	T    *Tracer
	Tid  int
	Base Regs
	IP   uint64 // address of a syscall instruction mapped in the thread
	// Cloned collects the tids reported by PTRACE_EVENT_CLONE during calls.
	Cloned []int
}

// Syscall runs syscall nr with up to six arguments in the thread and
// returns its result. A result in [-4095, -1] is returned as a
// *SyscallError wrapping the errno.
func (in *Injector) Syscall(name string, nr uintptr, args ...uint64) (uint64, error) {
	var ret uint64
	err := in.T.Do(func() error {
		var err error
		ret, err = in.call(nr, args)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("injected %s in %d: %w", name, in.Tid, err)
	}
	if r := int64(ret); r < 0 && r >= -4095 {
		return ret, &SyscallError{Tid: in.Tid, Name: name, Err: unix.Errno(-r)}
	}
	return ret, nil
}

// call runs on the tracer thread.
func (in *Injector) call(nr uintptr, args []uint64) (uint64, error) {
	r := in.Base
	r.Rip = in.IP
	r.Rax = uint64(nr)
	r.Orig_rax = ^uint64(0) // no syscall to restart on resume
	r.Eflags &^= 0x100      // TF
	var a [6]uint64
	copy(a[:], args)
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := unix.PtraceSetRegs(in.Tid, &r); err != nil {
		return 0, sysErr("ptrace(SETREGS)", err)
	}
	if err := rawPtrace(unix.PTRACE_SINGLESTEP, in.Tid, 0, 0); err != nil {
		return 0, sysErr("ptrace(SINGLESTEP)", err)
	}
	for {
		st, err := wait(in.Tid)
		if err != nil {
			return 0, err
		}
		if st.Exited() || st.Signaled() {
			return 0, ErrExited
		}
		if !st.Stopped() {
			continue
		}
		if ev := st.Event(); ev != 0 {
			if ev == unix.PTRACE_EVENT_CLONE || ev == unix.PTRACE_EVENT_FORK || ev == unix.PTRACE_EVENT_VFORK {
				msg, _ := unix.PtraceGetEventMsg(in.Tid)
				in.Cloned = append(in.Cloned, int(msg))
			}
			if err := rawPtrace(unix.PTRACE_SINGLESTEP, in.Tid, 0, 0); err != nil {
				return 0, sysErr("ptrace(SINGLESTEP)", err)
			}
			continue
		}
		if st.StopSignal() != unix.SIGTRAP {
			return 0, fmt.Errorf("unexpected signal %v during injected syscall %d", st.StopSignal(), nr)
		}
		var out Regs
		if err := unix.PtraceGetRegs(in.Tid, &out); err != nil {
			return 0, sysErr("ptrace(GETREGS)", err)
		}
		if out.Rip != in.IP+2 {
			return 0, fmt.Errorf("injected syscall %d stopped at %#x, not after %#x", nr, out.Rip, in.IP)
		}
		return out.Rax, nil
	}
}
