// Package dump checkpoints a process tree (the root given and every
// descendant, zombies included; any number of threads each) into CRIU
// images written through an image.Store.
//
// The tree is frozen top down (a task's children are listed once it is
// stopped, tree.go). Objects several tasks share are found with kcmp: fd
// tables (CLONE_FILES) and fs, open file descriptions (fork-inherited
// fds get one file id), pipes (pipes.go: buffered bytes are copied with
// tee(2) from a pidfd_getfd copy, which leaves them in place; a pipe
// with an end outside the tree, a supervisor's stdio, is dumped as CRIU
// does, its bytes only when its read end is in the tree, for restore to
// make anew or take from --inherit-fd). A socket reaching outside the
// tree fails the dump with an FdError naming the fd (ErrOutside).
//
// files.go: regular files by path from criu's root, with their owner
// and signal (F_GETOWN_EX, F_GETOWNER_UIDS, F_GETSIG: fown, as CRIU; an
// owner outside the tree is refused); files and directories deleted
// while open (or a deleted cwd) are ghosts (ghost-file-ID.img: mode,
// owner, times, and for files of 3 pages or more the data as chunks
// found with SEEK_DATA/SEEK_HOLE, which keeps the holes). The cwd and
// root must be reachable by path from criu's root (fsDir): a root in
// another mount namespace (pivot_root with the old root detached) is
// refused with ErrUnreachable until mount namespaces are checkpointed.
//
// Sockets (unixsk.go, inetsk.go, sockopts.go): UNIX sockets are described
// by sock_diag (sockdiag_linux.go: name, bound file, peer, pending
// connections, queue lengths, shutdown); their options and queued
// messages are read from a pidfd_getfd copy with getsockopt and MSG_PEEK
// under SO_PEEK_OFF (sk-queues.img; a datagram's sender name in the
// entry's addr, CRIU's reserved field 3). A connection whose peer closed
// (both ways shut down) keeps peer 0 and is restored as a pair whose other
// end sends its queue and closes; a connection not yet accepted gets its
// listener as peer and connects to it again (refused if data was sent on
// it, its client closed or is outside the tree, or the accept order is
// not the file id order); a pending socket error (POLLERR) is refused,
// since reading the queue would clear it, and so is a queued message
// with control data (descriptors, the sender's credentials of
// SO_PASSCRED: sent again, it would carry the restorer's), a connection shut
// down before it connected (its peer not shut down to match), since
// restore shuts down a pair, which reaches both ends. A peer outside the tree fails
// the dump (ErrOutside), except, as in CRIU 4.2, with Options.ExtUnixSk
// a named datagram peer (restore connects to its name again), and a
// socket named in Options.ExtUnixInodes (--ext-unix-sk=INO) of any kind
// with nothing queued (restore takes it from --inherit-fd
// fd[N]:socket:[INO]); the peer is written as an external entry
// (USK_EXTERN). IPv4/IPv6 TCP sockets
// that are closed or listening and UDP sockets are saved, with their
// shutdown (sock_diag's INET_DIAG_SHUTDOWN; an unbound socket is not
// listed, and poll shows a read or full shutdown but not a write one
// alone); a TCP connection fails with ErrTCPEstablished.
//
// Socket options, audited against restore. Saved and set again:
// SO_SNDBUF and SO_RCVBUF (set with the FORCE variants, then SO_BUF_LOCK
// as it was), SO_SNDTIMEO, SO_RCVTIMEO, SO_REUSEADDR, SO_REUSEPORT,
// SO_PRIORITY, SO_RCVLOWAT, SO_MARK, SO_PASSCRED, SO_PASSSEC, SO_BROADCAST,
// SO_KEEPALIVE, SO_DONTROUTE, SO_NO_CHECK, SO_OOBINLINE, SO_LINGER,
// SO_BINDTODEVICE, a classic BPF filter (SO_GET_FILTER, so_filter;
// attached after the queue is refilled); IPV6_V6ONLY, IP_FREEBIND and
// IPV6_FREEBIND, IP_TOS, IP_TTL, IP_PKTINFO (IPV6_RECVPKTINFO for IPv6,
// as CRIU); TCP_NODELAY, TCP_CORK,
// TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL (as the socket uses them: its
// own or the namespace default, set as its own, as CRIU). Options the
// images have no field for (the unsaved* tables: timestamping,
// SO_PEEK_OFF, SO_LOCK_FILTER, busy polling, pacing, zerocopy, the IP and
// IPv6 receive and multicast options, TCP_USER_TIMEOUT, TCP_DEFER_ACCEPT,
// TCP_MAXSEG, TCP_CONGESTION, TCP_FASTOPEN, TCP_NOTSENT_LOWAT, UDP_CORK,
// UDP_SEGMENT, UDP_GRO, ...) fail the dump by name when they differ from
// a new socket's of the same kind in the same namespace. Not seen at all,
// so not saved: an eBPF filter (SO_ATTACH_BPF; SO_GET_FILTER shows none),
// multicast memberships, a peer's credentials (SO_PEERCRED: a restored
// pair carries the restorer's). Kernel-kept state such as SO_INCOMING_CPU
// or TCP_TIMESTAMP is not an option a program set and is not checked.
//
// anon.go: eventfd, signalfd and timerfd from their fdinfo; epoll with
// its targets, each of which must still be open at the fd number it was
// added with (kcmp KCMP_EPOLL_TFD). inotify.go: inotify files with their watches (mask,
// watch descriptor, file handle, and the path found by opening the
// handle; a watched file no path leads to keeps its handle only, as
// CRIU: restore watches its ghost, or opens the handle, which tmpfs
// handles do not survive, so those are refused). tty.go: Unix98 ptys
// whose master and slaves are all in the tree (tty-info.img: termios
// and its locked bits, their c_cc packed four to an entry as CRIU writes
// them (PackCc), window size, lock,
// packet and exclusive modes). A pty whose master the tree holds is the
// tree's own (a terminal multiplexer's pane), not a shell's, at any fd.
// When it is a session's controlling terminal (TIOCGSID and TIOCGPGRP on
// the master), the session's leader and foreground group must be in the
// tree and every live task of that session must have it as its terminal
// (restore gives it to all of them); the session and group go in both
// ends' entries, as in CRIU. Bytes waiting in a master's buffer (written
// to the slave, not yet read) are copied to tty-data.img and put back at
// once with TIOCSTI, which hands them to the master's line discipline,
// always raw: nothing is lost if the dump fails. Input waiting in a
// slave's buffer is kept the same way (read from a slave the master opens
// with TIOCGPTPEER, put back with TIOCSTI) when the slave's mode stores
// input as it comes (ReplayableInput: no ICANON, no ECHO, and none of the
// bytes special in that mode, as for readline or a full-screen program);
// bytes that turn out special go back under a mode without them, and the
// dump is refused. Refused, by name: input waiting in canonical mode or
// with echo (CRIU replays it through the line discipline a second time:
// echoed and edited again), more than 2048 waiting bytes on an end, packet
// mode with waiting bytes. Not seen by any interface, and so neither saved
// nor refused (as in CRIU): a partial canonical input line (typed, no
// newline yet; TIOCINQ counts whole lines only) and a tty stopped by ^S.
// exttty.go: a terminal whose other end is outside the tree (a
// container's console, a pty slave whose master a supervisor holds) is
// refused, naming its key, unless Options.ExternalTTY names it (criu dump
// --external tty[RDEV:DEV], CRIU's): then its fds, at any fd number, are
// files of an EXT_TTY tty-info entry (termios, locked termios, window
// size, exclusive mode, as CRIU's), which restore must be given with
// --inherit-fd. When it is the controlling terminal of a session of the
// tree (the tasks' stat tty_nr and tpgid, as the dumper cannot ask the
// slave: TIOCGSID answers only a task of that session), the session and
// its foreground group are recorded and restore gives it back, as CRIU;
// its leader and group must be in the tree, and every task of the session
// have it. Refused by name: unread input on it (it would stay in the old
// terminal), a pty master or /dev/tty as external, a controlling terminal
// the tree's external fds cannot tell from another of the same device.
//
// locks.go: flock and POSIX locks shown in each fd's fdinfo are saved to
// filelocks.img with Options.FileLocks, and fail the dump (ErrFileLocks)
// without it. sysvshm.go: System V shared memory attached by the tasks
// (ipcns-shm-0.img: key, owner, mode, size, bytes); the attaches are
// VMA_AREA_SYSVIPC vmas whose pages are not in the pagemap. Shared
// anonymous mappings and memfds (fds and mappings) are saved once per
// object by package shmem (memory.go records them); their pages are not
// in the tasks' pagemaps either. Every smaps VmFlag of a mapping is
// either made again by restore (protection, mapping type and flags,
// madvise, mlock2, mseal: memory.go, vmFlagsKept) or fails the dump with
// a VmaError naming the mapping and the flag. Pages a task shares
// copy-on-write with its parent (the same PFN at the same address, read
// from both pagemaps before any page is read) are flagged image.PeCow
// in its pagemap, still with their bytes, so that restore can leave them
// shared; they are read through /proc/PID/mem (no pin), as
// process_vm_readv pins what it reads, and pinning a shared anonymous
// page gives the task a copy of its own.
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
// A cancelled context (criu: SIGINT, SIGTERM, SIGHUP) is such an error:
// Dump and PreDump check it between their steps, and criu's store fails
// each read and write once it is cancelled, so a dump stops within one
// image write; Finish is the commit point, after which the dump is not
// undone. The frozen time (Stats.Frozen, stats-dump.img) runs from the
// last thread stopped to the kill or the resume; stats-dump.img is written
// after it when the store takes images after Finish
// (Options.StatsAfterFinish). A remote snapshot is sealed by its
// confirmation: there (image.LateFinisher) stats-dump.img goes with the
// Confirm, its frozen time taken once the cache has acknowledged the
// Finish, so it leaves out only the Confirm's round trip and the kill.
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
