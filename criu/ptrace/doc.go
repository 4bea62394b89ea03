// Package ptrace is the only caller of ptrace(2) and wait4(2) in criu.
//
// The kernel ties a tracee to the thread that attached it: every ptrace
// request and every wait for a tracee must come from that one OS thread.
// A Tracer owns one goroutine locked to its OS thread and runs every request
// there; methods documented "runs on the tracer thread" are safe to call from
// any goroutine because they hop onto it.
//
// Syscalls are injected without patching code: the [vdso] contains a
// `syscall` instruction; a stopped thread gets RIP pointed at it, the
// arguments in its registers and one PTRACE_SINGLESTEP, which stops right
// after the syscall returns. Its registers are then put back. During the
// call every signal is blocked but SIGTRAP: the step's trap is a forced
// SIGTRAP, and a forced signal that is blocked resets its handler. A
// SIGSTOP (which cannot be blocked) taken there is suppressed and
// remembered, like a group-stop found by Seize: StopSignal tells the
// caller to stop the task again when it lets it go. A clone event whose
// new tid cannot be read is an error, never tid 0.
//
// seccomp.go reads a thread's seccomp filters (PTRACE_SECCOMP_GET_FILTER
// and GET_METADATA); OptSuspendSeccomp lets injected syscalls pass the
// filters of a tracee until it is detached.
//
// fpregs_amd64.go maps the NT_X86_XSTATE regset (the xsave layout) to the
// images' user_x86_fpregs_entry and back, for dump and restore alike.
package ptrace
