// Package netns saves and restores the configuration of one network
// namespace with the iproute2 `ip` tool, the way CRIU does (criu/net.c):
// the tool runs inside the namespace and its own dump format is stored
// as raw images, fed back to `ip ... restore` on restore.
//
// What belongs here: running `ip` (and `nft`) inside a namespace, the image names and
// formats below, recreating links, the net sysctls that CRIU saves (of
// the namespace and of each link). What does not: deciding which
// namespaces a dump covers, the network lock (netlock), sockets.
//
// # Images (N is the namespace's object id)
//
//	ifaddr-N.img  raw, no header: the bytes of `ip addr save`       (CRIU: same)
//	route-N.img   raw, no header: `ip -4 route save table all`,
//	              minus the local table                              (CRIU: `ip route save`)
//	route6-N.img  raw, no header: `ip -6 route save table all`,
//	              minus the local table                              (CRIU: `ip -6 route save`)
//	rule-N.img    raw, no header: the bytes of `ip -4 rule save`      (CRIU: `ip rule save`, the same)
//	rule6-N.img   raw, no header: the bytes of `ip -6 rule save`      (ours: CRIU loses IPv6 rules)
//	iplinks-N.img raw, no header: a JSON document of ours (LinksImage),
//	              not a CRIU image; Restore reads the links from it
//	netdev-N.img  CRIU's: header 0x54564319 0x57373951 (NETDEV), a
//	              NetDeviceEntry per link (type, ifindex, mtu, IFF_*
//	              flags, name, address, veth peer from rtnetlink; its
//	              net/ipv{4,6}/conf/DEV/* in CRIU's order); Restore
//	              sets those sysctls, the links come from iplinks-N.img
//	              (a dummy link, which CRIU knows only through plugins,
//	              is EXTLINK)
//	nftables-N.img raw, no header: `nft list table` of each table but
//	              the network lock's (inet CRIU-*), fed to `nft -f -`
//	              (CRIU: `list ruleset` through libnftables, the same text)
//	netns-N.img   CRIU's: header 0x54564319 0x55933752 (NETNS), one
//	              NetnsEntry: net/ipv4/conf/{all,default}/*, the same
//	              for ipv6, net/unix/max_dgram_qlen and
//	              net/ipv4/ping_group_range, in CRIU's order; Restore
//	              sets those that differ (nsids are not saved)
//
// CRIU marks the four ip images RAW_IMAGE_MAGIC: no magic words, just the
// tool's output, which starts with the tool's own 4-byte magic and then
// carries rtnetlink messages (struct nlmsghdr + payload, NLMSG_ALIGNed):
//
//	+--------------+----------------------------+------------------ ...
//	| u32 ip magic | nlmsghdr (len,type,flags…) | rtmsg + rtattrs   ...
//	+--------------+----------------------------+------------------ ...
//
// The messages name devices by ifindex, so Restore recreates every link
// with the ifindex it had (`ip link add ... index N`) before feeding them.
//
// # veth links
//
// A veth pair with both ends in the namespace is saved with each end
// naming its peer (Link.Peer) and recreated there in one `ip link add`.
// A veth whose peer is outside the namespace (ip reports a
// link_netnsid) is saved as CRIU saves it, with no name for the peer:
// netdev-N.img has its peer's ifindex and no peer_nsid. Restore creates
// the peer under the name RestoreOptions.Veth gives, in PeerNS, and
// with @BRIDGE attaches it to that bridge and brings it up; without a
// name it fails (ErrNoVethPeer). Both come from CRIU's --external
// veth[INNER]:OUTER[@BRIDGE], which ParseExternal reads (LXC passes it
// at restore only, for its default network, a veth on a bridge).
//
// CRIU's images have no iplinks-N.img: Restore then reads the links
// from netdev-N.img (lo and veth links; any other type is refused by
// name).
//
// Routes: CRIU saves the main table only, so routes in other tables (used
// by policy rules) are lost; we save all tables, filtering out the local
// table (RT_TABLE_LOCAL, 255), whose routes the kernel makes itself from
// the addresses and which `ip route restore` would otherwise duplicate
// (IPv6 local routes come back with metric 1024 beside the kernel's
// metric 0 ones). Both images are still plain `ip route save` streams, so
// CRIU's restore reads them, and ours reads CRIU's.
//
// # Running ip inside a namespace
//
// Each command is started with exec.Cmd.Start on an OS thread that has
// joined the namespace (package nsenter, which then discards the
// thread): the child is cloned from that thread and so inherits its
// network namespace (verified by TestRunsInNamespace). No `ip netns
// exec`, no bind mounts under /run/netns, no nsenter(1) program.
//
// `ip ... restore` checks its input with ftell, which fails on a pipe or a
// socket, so every image is first copied into an unlinked temporary file
// (image.SeekableCopy); remote stores work the same as local ones.
package netns
