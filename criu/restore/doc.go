// Package restore rebuilds one dumped process, with the same PID and
// thread ids, from CRIU images read through an image.Store.
//
// No code is loaded into the new task: a stub (the dumped executable,
// stopped at its exec by PTRACE_TRACEME) is made to clone3 the task with
// set_tid = the dumped pid; every later step is a syscall injected into
// the new task at its [vdso] syscall instruction: the vDSO is moved to its
// dumped address, everything else unmapped, the dumped mappings created and
// filled, files opened, threads cloned with their tids, and finally each
// thread gets its registers, xstate and signal mask back and is detached.
// On any failure everything created is killed.
package restore
