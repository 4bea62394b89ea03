// Package dump checkpoints a process tree (the root given and every
// descendant, zombies included; any number of threads each) into CRIU
// images written through an image.Store.
//
// The tree is frozen top down (a task's children are listed once it is
// stopped, tree.go). Objects several tasks share are found with kcmp: fd
// tables (CLONE_FILES) and fs, open file descriptions (fork-inherited
// fds get one file id), pipes (pipes.go: both ends must be in the tree,
// buffered bytes are copied with tee(2) from a pidfd_getfd copy, which
// leaves them in place). An object reaching outside the tree fails the
// dump with an FdError naming the fd (ErrOutside).
//
// Sockets (unixsk.go, inetsk.go, sockopts.go): UNIX sockets are described
// by sock_diag (sockdiag_linux.go: name, peer, pending connections,
// shutdown); their options and queued messages are read from a
// pidfd_getfd copy with getsockopt and MSG_PEEK under SO_PEEK_OFF
// (sk-queues.img). A peer outside the tree fails the dump (ErrOutside).
// IPv4/IPv6 TCP sockets that are closed or listening and UDP sockets are
// saved; a TCP connection fails with ErrTCPEstablished. anon.go: eventfd,
// signalfd and timerfd from their fdinfo; epoll with its targets, each of
// which must still be open at the fd number it was added with (kcmp
// KCMP_EPOLL_TFD). inotify.go: inotify files with their watches (mask,
// watch descriptor, file handle, and the path found by opening the
// handle). tty.go: Unix98 ptys whose master and slaves are all in the
// tree (tty-info.img: termios, window size, lock, packet and exclusive
// modes); a pty holding unread bytes or being a controlling terminal is
// refused.
//
// locks.go: flock and POSIX locks shown in each fd's fdinfo are saved to
// filelocks.img with Options.FileLocks, and fail the dump (ErrFileLocks)
// without it. sysvshm.go: System V shared memory attached by the tasks
// (ipcns-shm-0.img: key, owner, mode, size, bytes); the attaches are
// VMA_AREA_SYSVIPC vmas whose pages are not in the pagemap.
//
// shelljob.go: a task tied to the shell that started it (a terminal, the
// shell's session, stdio pipes of its pipeline) fails with ErrShellJob
// unless Options.ShellJob, with which its stdio is recorded as external.
//
// ns.go: namespaces. A namespace of the root that is not criu's own is
// the tree's: the pid, net, ipc, uts and mnt kinds are supported, every
// other task must be in the root's namespaces (ErrUnsupported otherwise,
// naming the task and the namespace), and a root in a pid namespace of its
// own must be its init. Then every pid the images hold (pstree, the pid
// and tid in image names, lock owners, timer targets) is the one seen
// inside that namespace (the last field of NSpid, NSpgid, NSsid), while
// everything done from outside uses host pids. ids-N.img names each
// task's namespaces by object id, inventory root_ids are criu's own (as in
// CRIU), and the network namespace's configuration is saved with the ip
// tool (criu/netns); sock_diag is asked from inside it.
//
// The dump never loses its task: every task is frozen with PTRACE_SEIZE and
// PTRACE_INTERRUPT, its state is read through ptrace, /proc and syscalls
// injected at the [vdso]'s syscall instruction, and on any error every
// thread gets its registers and signal mask back and is detached. Only after
// the store's Finish has returned nil are the tasks killed (or, with
// LeaveRunning, let go).
//
// # Task state: what is read, and what becomes of it
//
// Every per-task source the dump reads, field by field: saved (and
// restored), refused (the dump fails naming the task or thread and the
// state), or ignored, with why. A field that is missing or does not
// parse fails the dump naming the file and the field (package procfs).
// Seccomp is package seccomp's.
//
//	/proc/PID/stat          state Z: zombie (exit_code saved). ppid, pgrp, session: pstree.
//	                        tty_nr: shelljob.go. startcode..env_end: mm (PR_SET_MM_MAP).
//	                        exit_signal: refused unless SIGCHLD (not the root). flags (PF_*):
//	                        saved, not settable. nice, num_threads: not used (below, task/).
//	/proc/PID/status        Tgid: checked. Umask: fs. Uid, Gid, Groups, Cap{Inh,Prm,Eff,Bnd,Amb},
//	task/TID/status         NoNewPrivs: creds, per thread (with PR_GET_SECUREBITS). Seccomp,
//	                        Seccomp_filters: package seccomp. SigCgt, SigIgn: which sigactions
//	                        to ask for. SigPnd, ShdPnd: a pending SIGTRAP is refused (as CRIU:
//	                        the injected calls' traps would take its place); the queues are
//	                        read with PTRACE_PEEKSIGINFO. NSpid, NSpgid, NSsid: ns.go.
//	                        THP_enabled: mm. Cpus_allowed (sched_getaffinity): refused when
//	                        it differs from criu's own (no field in CRIU's images; CRIU 4.2
//	                        drops it: the restored thread runs where the restorer may).
//	                        Ignored: Mems_allowed (cpuset: the cgroups'), Speculation_*
//	                        (PR_SET_SPECULATION_CTRL has no field either), the Vm* and ctxt
//	                        counters (memory is mm's, counters are not state).
//	task/TID/comm, comm     saved, PR_SET_NAME per thread.
//	personality             saved, restored (also 0).
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
//
// Injected calls run with every signal blocked but SIGTRAP: the kernel
// resets the handler of a forced signal that is blocked, and the single
// step's trap is one.
package dump
