// Package raw holds what is particular to raw IPv4 and IPv6 sockets
// (SOCK_RAW, any protocol, as ping, traceroute, routing and VRRP daemons
// open them), both halves: List reads them with raw sock_diag, DumpOpts
// and SetOpts their options of CRIU's ip_opts_raw_entry. Package sockets
// saves a raw socket in an inet_sk_entry, as CRIU does, with the rest
// (addresses, SOL_SOCKET and IP options, the filter) and makes it again.
//
// # Image
//
//	files.img  a FileEntry of type INETSK (isk: InetSkEntry) with type
//	           SOCK_RAW and proto the socket's protocol; src_port is the
//	           protocol, as getsockname and raw sock_diag give it (CRIU's
//	           restore binds only when it is not 0); the peer address of
//	           a connected socket (state TCP_ESTABLISHED) with dst_port 0;
//	           ip_opts.raw: hdrincl (IP_HDRINCL, IPV6_HDRINCL), nodefrag
//	           (IP_NODEFRAG), icmpv_filter (ICMP_FILTER: 1 word;
//	           ICMPV6_FILTER: 8 words) for ICMP and ICMPv6 sockets.
//
// # Dump
//
// The peer of a connected raw socket is not what getpeername answers
// (ENOTCONN: it has no port), so the state, the peer and the shutdown
// bits come from raw sock_diag (List: inet_diag with protocol
// IPPROTO_RAW, CONFIG_INET_RAW_DIAG, `criu check --feature
// net_diag_raw`), asked once per family and dump in the tree's network
// namespace. A kernel without it (the sock_diag dump ends with ENOENT)
// has the same in /proc/net/raw and raw6 (ListProc) but the shutdown,
// which package sockets then reads with poll: a read shutdown and both,
// not a write shutdown alone (which changes nothing a raw socket does).
//
// # Restore
//
// socket(family, SOCK_RAW, proto), the options (SetOpts with the rest),
// bind to the source address, connect to the peer when it was
// connected (CRIU 4.2 does not: it gives connect the port, which a raw
// socket has none of), shutdown as dumped.
package raw
