// Package linux is the one place that makes raw system calls and knows
// the byte layout of kernel ABI structs.
//
// What belongs here:
//   - one wrapper per system call (or per ioctl, fcntl, prctl, ptrace
//     request) that x/sys/unix does not offer in a usable form, returning
//     its error as os.NewSyscallError("name", err) so that errors.Is sees
//     the errno;
//   - the one EINTR retry helper, RetryEINTR, used by every wrapper and by
//     callers that retry an x/sys/unix call themselves;
//   - typed structs mirroring the kernel headers (the header is named in
//     each struct's comment), with Bytes methods where the struct is
//     written into a tracee for an injected system call.
//
// unsafe is imported only by the *_unsafe.go files of this package; the
// lint check .ci/lint-syscalls fails a build that calls unix.Syscall,
// unix.RawSyscall or syscall.Syscall, or imports unsafe, anywhere else
// (but for the paths in .ci/lint-syscalls.allow).
//
// The package imports nothing of this module, so everything may use it.
// It is amd64 Linux only, as the rest of criu.
package linux
