// Package inetdiag asks sock_diag (package sockdiag) for the inet
// sockets (TCP, UDP, UDP-Lite, MPTCP) of the calling thread's network
// namespace: the shutdown bits of each (INET_DIAG_SHUTDOWN), by inode,
// which no other interface shows for a write shutdown
// (include/uapi/linux/inet_diag.h). The dumper of criu/sockets reads
// them once per family and protocol.
package inetdiag
