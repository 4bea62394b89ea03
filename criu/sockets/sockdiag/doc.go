// Package sockdiag speaks NETLINK_SOCK_DIAG for the socket packages:
// one SOCK_DIAG_BY_FAMILY dump request (Dump) and the attributes that
// follow a reply's fixed part (Attrs). Each family's request and reply
// layout belongs to the package of that family: unix_diag to
// criu/sockets/unixdiag, inet_diag to criu/sockets/inetdiag, raw_diag to
// criu/sockets/raw, packet_diag to criu/sockets/packet.
//
// A request is sent in the network namespace of the calling thread,
// and sock_diag answers for that namespace's sockets only.
package sockdiag
