// Package netlink checkpoints netlink sockets as daemons open them
// (NETLINK_ROUTE with multicast groups, NETLINK_KOBJECT_UEVENT, ...),
// both halves: Dump reads what CRIU's netlink_sk_entry holds, Open makes
// the socket again. Package sockets calls them and adds the SOL_SOCKET
// options and the filter, which it owns.
//
// # Image
//
//	files.img  a FileEntry of type NETLINKSK (nlsk: NetlinkSkEntry, as
//	           CRIU's images/sk-netlink.proto): protocol, state
//	           (1 connected, 7 bound, 0 not bound), file status flags, the bound port id (0:
//	           not bound), the groups joined as a bitmap of u32 words
//	           (group N is bit N-1), the connected peer (dst_portid,
//	           dst_group), fown, sk_opts.
//
// # Dump
//
// The port id and the first 32 groups come from getsockname, every group
// from NETLINK_LIST_MEMBERSHIPS, the peer from getpeername. Refused by
// name: a message waiting to be read or a pending error (poll), which
// restore could not queue again; a SOCK_DGRAM socket (the entry has no
// type, and CRIU makes SOCK_RAW); a NETLINK_* option set (PKTINFO,
// BROADCAST_ERROR, NO_ENOBUFS, LISTEN_ALL_NSID, CAP_ACK, EXT_ACK,
// GET_STRICT_CHK), which CRIU's entry has no field for (CRIU 4.2 drops
// them silently).
//
// # Restore
//
// socket(AF_NETLINK, SOCK_RAW, protocol), bind with the port id and the
// first 32 groups (only where one of them is set: an unbound socket
// stays unbound), NETLINK_ADD_MEMBERSHIP for each group past 32, connect
// to the peer if any. It runs in the tree's network namespace.
package netlink
