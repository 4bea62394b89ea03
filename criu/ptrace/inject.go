package ptrace

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
)

// FindSyscall locates a `syscall` instruction in task pid, whose
// mappings are maps: the address injected syscalls run at. It is the
// [vdso]'s; a task that unmapped its vdso (CRIU's zdtm vdso02, a kernel
// booted with vdso=0) has one found in its readable, executable
// mappings instead, file text first: reading a mapping's pages faults
// in the file's own, so it dirties nothing that the dump then saves.
func FindSyscall(pid int, maps []procfs.Mapping) (uint64, error) {
	for _, m := range maps {
		if m.Path != "[vdso]" {
			continue
		}
		b := make([]byte, m.Len())
		if err := mem.ReadRemote(pid, []mem.Range{{Start: m.Start, End: m.End}}, b); err != nil {
			return 0, fmt.Errorf("read [vdso]: %w", err)
		}
		return SyscallInsn(m.Start, b)
	}
	for _, file := range []bool{true, false} {
		for _, m := range maps {
			const rx = procfs.ProtRead | procfs.ProtExec
			if m.Prot&rx != rx || (m.Inode != 0) != file || strings.HasPrefix(m.Path, "[") {
				continue
			}
			if ip, ok := syscallIn(pid, m); ok {
				return ip, nil
			}
		}
	}
	return 0, fmt.Errorf("task %d has no [vdso] (unmapped), and none of its executable mappings holds a syscall instruction: %w", pid, ErrNoSyscallInsn)
}

// syscallIn finds a `syscall` instruction in mapping m of task pid,
// reading it a chunk at a time (a library's text is megabytes; the
// first chunk nearly always has one). A chunk that cannot be read
// ends the search in m.
func syscallIn(pid int, m procfs.Mapping) (uint64, bool) {
	const chunk = 64 << 10
	b := make([]byte, chunk+1)
	for at := m.Start; at < m.End; at += chunk {
		end := min(at+chunk+1, m.End) // one byte more: an instruction across chunks
		if err := mem.ReadRemote(pid, []mem.Range{{Start: at, End: end}}, b[:end-at]); err != nil {
			return 0, false
		}
		if ip, err := SyscallInsn(at, b[:end-at]); err == nil {
			return ip, true
		}
	}
	return 0, false
}

// SyscallInsn finds a `syscall` instruction (0f 05) in b, the bytes of
// memory mapped at start.
func SyscallInsn(start uint64, b []byte) (uint64, error) {
	i := bytes.Index(b, []byte{0x0f, 0x05})
	if i < 0 {
		return 0, ErrNoSyscallInsn
	}
	return start + uint64(i), nil
}

// Injector runs syscalls inside one stopped thread. Base is the register
// template each call starts from, normally the thread's registers as
// found.
//
// Each call is a short window: it blocks every signal but SIGTRAP
// (injectMask), sets the injected registers, single-steps over the
// syscall, and then, on success and on every error path, puts Base back as the thread's registers and the
// signal mask back as it was, all in one request on the tracer thread.
// A thread attached with Seize is then parked in an interrupt stop
// (PTRACE_INTERRUPT, PTRACE_CONT with no signal: the trap is taken before
// any user code runs), because a thread left in the single-step's SIGTRAP
// stop by a dying tracer gets that SIGTRAP and dies of it.
//
// So between calls the thread holds its own registers and mask in an
// interrupt stop, and a tracer that dies then (the kernel detaches its
// tracees) leaves the thread to run on as before. Only a tracer killed
// inside a window (tens of microseconds) leaves injected registers
// behind.
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

// call runs on the tracer thread. It leaves the thread with in.Base as
// its registers and its signal mask as found, whatever happens.
func (in *Injector) call(nr uintptr, args []uint64) (ret uint64, err error) {
	err = in.window(func() error {
		ret, err = in.step(nr, args)
		return err
	})
	return ret, err
}

// Call is one system call of a Batch.
type Call struct {
	Name string
	Nr   uintptr
	Args []uint64
}

// Batch runs calls in the thread one after the other, in one window: one
// request to the tracer thread, the signal mask set and put back once,
// one park. Each Syscall alone has all of that around its tracee stop, so
// a batch of n costs about what n/2 single calls cost. It stops at the
// first call that fails (an errno is returned as for Syscall); the
// results of the calls that ran come back in order.
func (in *Injector) Batch(calls ...Call) ([]uint64, error) {
	rets := make([]uint64, 0, len(calls))
	failed := -1
	err := in.T.Do(func() error {
		return in.window(func() error {
			for i, c := range calls {
				ret, err := in.step(c.Nr, c.Args)
				if err != nil {
					failed = i
					return err
				}
				rets = append(rets, ret)
				if r := int64(ret); r < 0 && r >= -4095 {
					failed = i
					return nil
				}
			}
			return nil
		})
	})
	if err != nil {
		name := "batch"
		if failed >= 0 {
			name = calls[failed].Name
		}
		return rets, fmt.Errorf("injected %s in %d: %w", name, in.Tid, err)
	}
	if failed >= 0 {
		r := int64(rets[failed])
		return rets, &SyscallError{Tid: in.Tid, Name: calls[failed].Name, Err: unix.Errno(-r)}
	}
	return rets, nil
}

// window runs f, which steps injected calls, with the thread's signal
// mask set to injectMask, and leaves the thread with in.Base as its
// registers and its signal mask as found, parked if seized, whatever
// happens. It runs on the tracer thread.
func (in *Injector) window(f func() error) (err error) {
	mask, err := linux.PtraceGetSigmask(in.Tid)
	if err != nil {
		return err
	}
	if err := linux.PtraceSetSigmask(in.Tid, injectMask); err != nil {
		return err
	}
	defer func() {
		// A thread that died (or was never stopped) cannot take them.
		if errors.Is(err, ErrExited) {
			return
		}
		base := in.Base
		if e := sysErr("ptrace(SETREGS)", unix.PtraceSetRegs(in.Tid, &base)); e != nil && err == nil {
			err = e
		}
		if e := linux.PtraceSetSigmask(in.Tid, mask); e != nil && err == nil {
			err = e
		}
		if in.T.seized[in.Tid] {
			if e := park(in.Tid); e != nil && err == nil {
				err = e
			}
		}
	}()
	return f()
}

// injectMask is the signal mask of a thread during an injected call:
// every signal but SIGTRAP. The single step's trap is a forced SIGTRAP,
// and the kernel resets the handler of a forced signal that is blocked
// to SIG_DFL (force_sig_info_to_task): a blocked SIGTRAP would cost the
// task its SIGTRAP handler at every call. A SIGTRAP already pending
// would then be taken in place of the trap: the dump refuses such a
// task (as CRIU does), and the step checks where it stopped.
const injectMask = ^uint64(0) &^ (1 << (unix.SIGTRAP - 1))

// park moves a seized thread from a signal-delivery-stop (the injected
// call's SIGTRAP) to an interrupt stop, without running user code and
// without delivering the SIGTRAP. It runs on the tracer thread.
func park(tid int) error {
	if err := linux.PtraceInterrupt(tid); err != nil {
		return err
	}
	if err := linux.PtraceCont(tid, 0); err != nil {
		return err
	}
	for {
		st, err := wait(tid)
		switch {
		case err != nil:
			return err
		case st.Exited() || st.Signaled():
			return ErrExited
		case !st.Stopped():
			continue
		case st.Event() == eventStop:
			return nil
		default:
			return fmt.Errorf("park %d: unexpected stop %#x", tid, uint32(st.WaitStatus))
		}
	}
}

// step sets up the injected registers and single-steps over the syscall.
// It runs on the tracer thread.
func (in *Injector) step(nr uintptr, args []uint64) (uint64, error) {
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
	if err := linux.PtraceSingleStep(in.Tid); err != nil {
		return 0, err
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
				msg, err := unix.PtraceGetEventMsg(in.Tid)
				if err != nil {
					return 0, fmt.Errorf("clone event of injected syscall %d: %w", nr, sysErr("ptrace(GETEVENTMSG)", err))
				}
				if msg == 0 || msg > 1<<22 {
					return 0, fmt.Errorf("clone event of injected syscall %d: new tid %d", nr, msg)
				}
				in.Cloned = append(in.Cloned, int(msg))
			}
			if err := linux.PtraceSingleStep(in.Tid); err != nil {
				return 0, err
			}
			continue
		}
		if st.StopSignal() == unix.SIGSTOP && in.T.seized[in.Tid] {
			// Every other signal is blocked for the call; a SIGSTOP
			// sent to the frozen task is taken here, before the
			// syscall. It is suppressed and remembered: the task is
			// stopped again when it is let go (StopSignal).
			in.T.stopSig[in.Tid] = unix.SIGSTOP
			if err := linux.PtraceSingleStep(in.Tid); err != nil {
				return 0, err
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
