// Package mcast finds the multicast groups an inet socket has joined
// (IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP, MCAST_JOIN_GROUP, source
// filters), which CRIU's images have no field for: CRIU 4.2 drops them
// silently, so a restored receiver hears its group no more. Package
// sockets refuses such a socket at dump by name (Groups.Refuse).
//
// No interface lists a socket's memberships. The groups joined on each
// interface of a network namespace are in /proc/net/igmp and igmp6;
// getsockopt(MCAST_MSFILTER) with one of them answers for a member of
// it on that interface and fails with EADDRNOTAVAIL for any other
// socket, so each group of the namespace is asked of the socket.
//
// /proc/net/igmp: a line per interface ("IDX\tDEV : COUNT QUERIER"),
// then one per group, indented, the group's four bytes in hex as a host
// u32 ("\t\t\t\t070707EF     1 0:00000000\t\t0" is 239.7.7.7).
// /proc/net/igmp6: a line per group, "IDX DEV GROUP USERS FLAGS TIMER",
// the group's sixteen bytes in hex, in order.
package mcast
