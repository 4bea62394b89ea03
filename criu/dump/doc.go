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
// the dump (ErrOutside), except, with Options.ExtUnixSk, a named datagram
// peer, written as an external entry (USK_EXTERN). IPv4/IPv6 TCP sockets
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
package dump
