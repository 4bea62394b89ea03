// Package dump checkpoints one process (any number of threads) into CRIU
// images written through an image.Store.
//
// The dump never loses its task: the task is frozen with PTRACE_SEIZE and
// PTRACE_INTERRUPT, its state is read through ptrace, /proc and syscalls
// injected at the [vdso]'s syscall instruction, and on any error every
// thread gets its registers and signal mask back and is detached. Only after
// the store's Finish has returned nil is the task killed (or, with
// LeaveRunning, let go).
package dump
