// Package task checkpoints the state of a task and its threads that the
// core-PID.img images hold, both halves: registers and FPU state, creds,
// signal handlers, blocked and pending signals, interval and POSIX
// timers, rlimits, personality, oom_score_adj, the child-subreaper flag,
// membarrier registrations, the audit login uid, scheduling policy and
// nice value, the parent-death signal, no_new_privs, sigaltstack, rseq,
// the robust futex list and clear-tid address.
//
// Dump (DumpThread, DumpCore) reads a frozen task (Frozen: its threads,
// their injectors, the scratch area the dump mapped into it) from /proc
// and with injected calls; it refuses what CRIU's images have no place
// for and a restored task would lose (SCHED_DEADLINE, an I/O priority, a
// CPU affinity other than criu's, an exit signal other than SIGCHLD). A
// thread stopped inside a restartable syscall is saved to re-enter it,
// as CRIU does.
//
// Restore sets that state again from inside the restored task (Task: its
// injected calls and scratch area) or from outside, each piece in its own
// function so that the orchestrator (package restore) keeps CRIU's order:
// creds in CRIU's order (SetCreds) before what changing ids resets
// (SetThreadMisc, SetProcessMisc); POSIX timers once the threads exist;
// pending signals queued from inside each thread; a stopped task sent its
// stop signal before it is let go (Restop).
//
// The seccomp filters are package seccomp; memory (mm-PID.img) and files
// are their own packages.
package task
