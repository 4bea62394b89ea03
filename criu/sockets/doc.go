// Package sockets checkpoints the sockets of a process tree, both
// halves: UNIX sockets (unix_dump.go, unix_restore.go; where their names
// are in the file system in package unixname), IPv4 and IPv6
// TCP, UDP, raw and ICMP ping sockets (inet_dump.go, inet_restore.go;
// raw_sk.go with package raw; ping_sk.go), their options
// (opts.go, filter_unsafe.go; the TCP ones in package soccr, those the
// images cannot hold in package unsaved), the messages queued on them
// (package skqueue; inflight.go hands the descriptors passed in them,
// SCM_RIGHTS, to the dumper),
// what sock_diag tells of them (package unixdiag; inet shutdowns in
// package inetdiag; both over package sockdiag),
// MPTCP (mptcp.go), netlink sockets (netlink_sk.go, with package
// netlink) and packet sockets (packet_sk.go, with package packet). A change to how
// a socket is saved or made again is made here, and only here.
//
// The dumper holds a Set for the tree: Add records each socket fd (from
// a pidfd_getfd copy) and returns its files.img entry, Check refuses,
// once every fd is recorded, what restore could not rebuild, and Write
// writes skqueue.Image. What the sockets need of the tree (its network
// namespace, file ids, entries of files.img with no fd) comes through
// Tree. The restorer calls OpenUnix, OpenInet and OpenSocket (netlink,
// packet) in the tree's network namespace to make the sockets in its own process (the
// masters it hands to the tasks), with the queues of skqueue.Read; the fds --inherit-fd gives
// come through Restorer. The refusals are errdefs' (ErrUnsupported,
// ErrOutside, ErrTCPEstablished, ErrBadImage, FdError).
//
// # Images
//
//	files.img      a FileEntry of type UNIXSK (usk: UnixSkEntry) or INETSK
//	               (isk: InetSkEntry) per open socket, as CRIU's; an
//	               external peer kept with --ext-unix-sk is a UNIXSK entry
//	               with uflags USK_EXTERN, its name and no fd.
//	sk-queues.img  per queued message an SkPacketEntry{id_for, length,
//	               addr, scm} and its bytes (package skqueue draws it).
//
// # Dump
//
// UNIX sockets are described by sock_diag (package unixdiag: name, bound
// file, peer, pending connections, queue lengths, shutdown), asked from
// inside the tree's network namespace; their options and queued
// messages are read from a pidfd_getfd copy with getsockopt and MSG_PEEK
// under SO_PEEK_OFF (sk-queues.img; a datagram's sender name in the
// entry's addr, CRIU's reserved field 3). A connection whose peer closed
// (both ways shut down) keeps peer 0 and is restored as a pair whose other
// end sends its queue and closes; a connection not yet accepted gets its
// listener as peer and connects to it again (refused if data was sent on
// it, its client closed or is outside the tree, or the accept order is
// not the file id order); a pending socket error (POLLERR) is refused,
// since reading the queue would clear it, and so is a queued message
// with control data other than descriptors (the sender's credentials of
// SO_PASSCRED: sent again, it would carry the restorer's). Descriptors
// passed in a queued message (SCM_RIGHTS) come as criu's copies from the
// peek; InFlight hands each to the dumper, which saves its file like a
// task's fd (a socket comes back to Add, so a socket passed in a socket
// is followed in turn), and restore sends it again with its message. A
// connection shut down before it connected (its peer not shut down to
// match: restore shuts down a pair, which reaches both ends) is made by
// connecting it, shut down, to the listener its peer was accepted from,
// which accepts it again; it is refused when the tree holds no such
// listener (the only one of its peer's name). A socket whose
// file is not deleted but no longer at its path (a mount over its
// directory hides it, or it moved) is refused: restore would bind the
// name on what the path reaches now. A peer outside the tree fails
// the dump (ErrOutside), except, as in CRIU 4.2, with Options.ExtUnixSk
// a named datagram peer (restore connects to its name again), and a
// socket named in Options.ExtUnixInodes (--ext-unix-sk=INO) of any kind
// with nothing queued (restore takes it from --inherit-fd
// fd[N]:socket:[INO]); the peer is written as an external entry
// (USK_EXTERN). IPv4/IPv6 TCP sockets
// that are closed or listening and UDP sockets are saved, with their
// shutdown (sock_diag's INET_DIAG_SHUTDOWN; an unbound socket is not
// listed, and poll shows a read or full shutdown but not a write one
// alone, a TCP one never connected only a read one); a connection the
// kernel closed (state CLOSE, its peer kept: SO_PEERNAME) is saved in
// repair mode as CRIU 4.2 does, whatever the options (restore needs
// --tcp-established, and makes it again in state CLOSE with its unread
// bytes), or with Options.TCPClose as an entry only, restored as a new
// socket shut down; a TCP connection (connecting, SYN_SENT, too) fails
// with ErrTCPEstablished, unless
// Options.TCPEstablished: then its copy is put in repair mode and saved
// (package soccr, tcp-stream-INO.img) and Release ends repair mode (the
// dump failed, or --leave-running; SO_REUSEADDR set back) or closes it
// silently (killed). An inet socket with an error its task has not read
// (POLLERR: a TCP reset, a refused connect, an ICMP error on a
// connected UDP socket) is refused: SO_ERROR would clear it, and no
// image holds it (CRIU 4.2 drops it). The
// restorer's InetRestorer rebuilds it in repair mode; Resume ends it
// once every task has its fds, before any runs, and sends the SYN of a
// connection in SYN_SENT again. MPTCP sockets
// (mptcp.go) are saved as TCP ones when listening or closed, with
// protocol 262; an MPTCP connection is refused (no repair mode), and so
// is a listener's connection not yet accepted unless
// Options.SkipInFlight.
//
// # Socket options, audited against restore
//
// Saved and set again:
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
// images have no field for (package unsaved's tables: timestamping,
// SO_PEEK_OFF, SO_LOCK_FILTER, busy polling, pacing, zerocopy, the IP and
// IPv6 receive and multicast options, TCP_USER_TIMEOUT, TCP_DEFER_ACCEPT,
// TCP_MAXSEG, TCP_CONGESTION, TCP_FASTOPEN, TCP_NOTSENT_LOWAT, UDP_CORK,
// UDP_SEGMENT, UDP_GRO, ...) fail the dump by name when they differ from
// a new socket's of the same kind in the same namespace. Refused by name:
// an eBPF filter (SO_ATTACH_BPF; SO_GET_FILTER answers EACCES for it),
// multicast memberships (package mcast finds them). Not seen at all, so
// not saved: a SO_REUSEPORT group's program (SO_ATTACH_REUSEPORT_CBPF,
// _EBPF), a peer's credentials (SO_PEERCRED: a restored pair carries the
// restorer's).
// Kernel-kept state such as SO_INCOMING_CPU or TCP_TIMESTAMP is not an
// option a program set and is not checked, nor, on a connection, what
// its handshake set (TCP_MAXSEG, TCP_WINDOW_CLAMP, an accepted socket's
// multicast TTL or hops and interface).
//
// # Restore
//
// The sockets are created in the restorer, from a thread inside the
// tree's network namespace (configured before any socket is made):
// connected UNIX pairs with socketpair (also a connection whose peer had
// closed: the stand-in end sends its queue, then closes), then binds
// (sockets sharing a path, a listener and the connections it accepted or
// deleted sockets and the path's new holder, bind in turn, the live one
// last, the others' file unlinked; a deleted socket's missing directories
// are made and removed after, what stands at its path now is moved aside
// and back), listens, options, queues refilled
// (a stream by its peer; a datagram from its sender's name: the tree's
// socket of that name, one bound to it for the send, or an unnamed one),
// then datagram connects and connections not yet accepted connected to
// their listener again (an external datagram peer by its name; a
// connection to an external peer must be given with --inherit-fd
// fd[N]:socket:[INO], which takes its place as it is), the filter, the
// shutdowns. Inet sockets get their options, bind (with IP_FREEBIND
// and, for those that had it off, SO_REUSEPORT on: turned off as they
// were once all are bound), listen or connect, shutdown and filter.
package sockets
