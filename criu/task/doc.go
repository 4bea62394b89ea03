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
//
// # Task state: what is read, and what becomes of it
//
// Every per-task source the dump reads, field by field: saved (and
// restored), refused (the dump fails naming the task or thread and the
// state), or ignored, with why. A field that is missing or does not
// parse fails the dump naming the file and the field (package procfs).
// Seccomp is package seccomp's.
//
//	/proc/PID/stat          state Z: zombie (exit_code saved), refused while other threads of
//	                        it run (its leader exited: RefuseDeadLeader). ppid, pgrp, session: pstree.
//	                        tty_nr: package tty. startcode..env_end: mm (PR_SET_MM_MAP).
//	                        exit_signal: refused unless SIGCHLD (not the root). flags (PF_*):
//	                        saved, not settable. nice, num_threads: not used (below, task/).
//	/proc/PID/status        Tgid: checked. Umask: fs. Uid, Gid, Groups, Cap{Inh,Prm,Eff,Bnd,Amb},
//	task/TID/status         TracerPid: refused unless 0 (RefuseTraced).
//	                        NoNewPrivs: creds, per thread (with PR_GET_SECUREBITS). Seccomp,
//	                        Seccomp_filters: package seccomp. SigCgt, SigIgn: which sigactions
//	                        to ask for. SigPnd, ShdPnd: a pending SIGTRAP is refused (as CRIU:
//	                        the injected calls' traps would take its place); the queues are
//	                        read with PTRACE_PEEKSIGINFO. NSpid, NSpgid, NSsid: dump/ns.go.
//	                        THP_enabled: mm. Cpus_allowed (sched_getaffinity): refused when
//	                        it differs from criu's own (no field in CRIU's images; CRIU 4.2
//	                        drops it: the restored thread runs where the restorer may).
//	                        Ignored: Mems_allowed (cpuset: the cgroups'), Speculation_*
//	                        (PR_SET_SPECULATION_CTRL has no field either), the Vm* and ctxt
//	                        counters (memory is mm's, counters are not state).
//	task/TID/comm, comm     saved, PR_SET_NAME per thread.
//	personality             saved, restored (also 0); a thread's other than its task's
//	                        (task/TID/personality) refused: the images keep one.
//	oom_score_adj           saved, restored; below the inherited minimum a warning names it.
//	limits                  saved; restored with prlimit (a hard limit above criu's own needs
//	                        CAP_SYS_RESOURCE: warned, as before).
//	timers                  POSIX timers: id, clock, signal, sigval, notify (SIGEV_SIGNAL, NONE,
//	                        THREAD, and SIGEV_THREAD_ID with its thread, which must be one of
//	                        the task's) saved; value and interval from timer_gettime; created
//	                        with their ids once the threads exist. Overrun: saved, not
//	                        settable.
//	auxv, exe, cwd, root    mm, files.img, fs.
//	task/TID/children       the tree. smaps, fd, fdinfo, map_files, ns/*: memory, files, ns.
//	loginuid                saved (task_core loginuid), written back from inside the task.
//	Not read: sched, schedstat, stack, wchan, io, attr/* (no LSM support: images say NO_LSM),
//	sessionid (set by the kernel with loginuid, not writable), timerslack_ns (no field in
//	CRIU's images; the restorer's slack).
//
// Per-thread and per-process kernel interfaces:
//
//	ptrace                  registers, xstate, fs/gs base, signal mask, rseq, pending signals
//	                        (both queues): saved. A group-stop (SIGSTOP, SIGTSTP, SIGTTIN,
//	                        SIGTTOU) is TASK_STOPPED with stop_signo, sent again at restore
//	                        and on thaw; a SIGSTOP that arrives during an injected call is
//	                        consumed and counts the same. Seccomp filters: package seccomp.
//	sched_getattr           policy with SCHED_RESET_ON_FORK, real-time priority: saved, per
//	getpriority             thread; nice from getpriority (sched_getattr says 0 for a
//	                        real-time thread, which keeps its nice value): saved. SCHED_DEADLINE:
//	                        refused (runtime, deadline, period have no field). Utilisation
//	                        clamps: ignored (no field; CRIU 4.2 neither).
//	ioprio_get              refused when set (no field in CRIU's images).
//	get_robust_list         saved.
//	prctl (injected)        PR_GET_TID_ADDRESS, PDEATHSIG, SECUREBITS (keep-caps included),
//	                        DUMPABLE, CHILD_SUBREAPER: saved. (MDWE and KSM merging: mm's.)
//	sigaltstack, getitimer  saved.
//	rt_sigaction            for caught signals and SIGCHLD; the flags of a default or ignored
//	                        signal other than SIGCHLD are not kept (they change nothing but
//	                        what sigaction() reports).
//	membarrier              MEMBARRIER_CMD_GET_REGISTRATIONS (the mm's registrations): saved,
//	                        re-registered.
//	brk(0), mmap            mm; the scratch mapping is the dump's own.
package task
