// Package packet checkpoints AF_PACKET sockets (SOCK_RAW, SOCK_DGRAM and
// the old SOCK_PACKET, which has no SOL_PACKET options and binds to a
// device by name),
// both halves: Dump reads what CRIU's packet_sock_entry holds, Open makes
// the socket again. Package sockets calls them and adds the SOL_SOCKET
// options and the filter, which it owns.
//
// # Image
//
//	files.img  a FileEntry of type PACKETSK (psk: PacketSockEntry, as
//	           CRIU's images/packet-sock.proto): type, protocol (in
//	           network byte order, as socket(2) takes it), file status
//	           flags, the bound ifindex (0: every interface), fown,
//	           sk_opts, PACKET_VERSION, PACKET_RESERVE, PACKET_AUXDATA,
//	           PACKET_ORIGDEV, PACKET_VNET_HDR, PACKET_LOSS,
//	           PACKET_TIMESTAMP, PACKET_COPY_THRESH, the memberships
//	           (mclist: ifindex, type, address; one entry per
//	           PACKET_ADD_MEMBERSHIP made, so a membership added twice is
//	           listed twice), the fanout group (id | type << 16 | flags
//	           << 24, as PACKET_FANOUT reads and takes it; absent: none).
//
// # Dump
//
// sock_diag (NETLINK_SOCK_DIAG, family AF_PACKET, packet_diag_req) lists
// the packet sockets of the tree's network namespace once per dump
// (List) with PACKET_DIAG_INFO (ifindex, version, reserve, copy_thresh,
// tstamp, the flags), PACKET_DIAG_MCLIST, the rings and the fanout; the
// fanout's flags come from getsockopt(PACKET_FANOUT), which diag leaves
// out. Packets queued on the socket are not saved, as in CRIU: a packet
// socket's traffic is lossy by nature. The rings (PACKET_RX_RING,
// PACKET_TX_RING, PACKET_MMAP) are saved with their geometry
// (PACKET_DIAG_RX_RING, _TX_RING), not their frames, as in CRIU, and
// only while they have carried none (CheckRings, through a mapping of
// criu's own: a TPACKET_V1/V2 ring or a TX ring all zeros, a V3 RX ring
// with only its first block opened, empty): the kernel's place in a
// ring, which a new one starts at the first frame, can be neither read
// nor set (ErrRingUsed). A task's mapping of them is made again from
// the restored socket (package mm, VMA_AREA_SOCKET, as CRIU; the
// dumper gives it the socket's file id and refuses part of a ring, or
// a ring whose socket no fd of the tree holds).
// Refused by name: a fanout group with a BPF program (CBPF, EBPF: the program
// cannot be read back; one made with FLAG_UNIQUEID keeps the id the
// kernel chose, which restore asks for), a vnet header size other than
// PACKET_VNET_HDR's, a membership address longer than 8 bytes, and the
// SOL_PACKET options the entry has no field for (PACKET_TX_HAS_OFF,
// PACKET_QDISC_BYPASS, PACKET_IGNORE_OUTGOING: package unsaved).
//
// # Restore
//
// socket(AF_PACKET, type, protocol), bind to the ifindex (protocol 0:
// the socket's own), the SOL_PACKET options in CRIU's order, the rings
// (after the options a ring makes EBUSY), each membership, the fanout
// group. It runs in the tree's network namespace.
package packet
