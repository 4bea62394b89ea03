package ptrace

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by a Tracer after Close.
	ErrClosed = errors.New("ptrace: tracer closed")
	// ErrExited reports that a tracee exited while being traced.
	ErrExited = errors.New("ptrace: tracee exited")
	// ErrNoSyscallInsn reports a task without a syscall instruction to
	// inject calls at (no [vdso], no executable mapping holding one).
	ErrNoSyscallInsn = errors.New("unsupported: no syscall instruction to inject calls at")
)

// SyscallError is an injected syscall that returned an error.
type SyscallError struct {
	Tid  int
	Name string
	Err  error // a syscall.Errno
}

func (e *SyscallError) Error() string {
	return fmt.Sprintf("injected %s in %d: %v", e.Name, e.Tid, e.Err)
}

func (e *SyscallError) Unwrap() error { return e.Err }
