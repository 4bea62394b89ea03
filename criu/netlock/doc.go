// Package netlock keeps a dumped tree's TCP connections silent from the
// moment the tree is frozen until it runs again: packets to and from
// them are dropped, so that the peers retransmit instead of being
// answered with a reset (CRIU's --network-lock, criu/net.c and
// criu/netfilter.c).
//
// What belongs here: the lock and the unlock, with nft(8) or
// iptables-restore(8), the lock's record and the sweep of locks whose
// owner died. What does not: finding the connections (the dump gives
// them as []Conn), TCP repair (package sockets).
//
// # Two flavors, as CRIU's
//
// A tree in criu's network namespace (the host flavor) gets one table
// with the connections' 4-tuples, both ways, IPv4 and IPv6 (an
// IPv4-mapped IPv6 connection is locked as IPv4):
//
//	table inet CRIU-ID {
//		comment "criugo owner=PID:START"
//		set conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; elements = {...} }
//		set conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; ... }
//		chain output { type filter hook output priority 0; meta mark 0xc114 accept; ... @conns4 drop; ... @conns6 drop }
//		chain input  { same }
//	}
//
// A tree with a network namespace of its own gets the table inside that
// namespace, with both chains' policy drop: everything is dropped but
// the packets criu marks itself (SO_MARK 0xC114, CRIU's SOCCR_MARK).
// With iptables the netns flavor is a chain CRIU-ID (cut to iptables' 28
// characters) jumped to from INPUT and OUTPUT of the filter table, in
// iptables and ip6tables; the host flavor is CRIU 4.2's own rules, one
// in INPUT and one in OUTPUT per connection ("-p tcp -m mark ! --mark
// 0xc114 -s A --sport P -d B --dport Q -j DROP"), which its restore
// deletes one by one: a chain of ours it would leave, and the
// connections locked.
//
// A connection is every TCP socket with a peer, a closed one too (state
// CLOSE after FINs or a reset, the fd open), as CRIU 4.2 counts them:
// its restore remakes a closed socket through TCP repair, sending
// itself packets, and answers to them must not reach the other end.
//
// ID is the dump's run id, the inventory's dump_criu_run_id (field 13),
// cut as CRIU 4.2 cuts it (nft: CRIU- and 21 characters; iptables: 28),
// as CRIU names it: restore finds the lock of the dump whose images it
// reads by that id, in the host flavor, and CRIU 4.2 restoring our
// images removes it too. The method is the inventory's
// network_lock_method (field 11; CRIU's 0 iptables, 1 nftables, 2 skip).
//
// # Life of a lock
//
//	dump:    freeze → Lock* (state locking) → sockets in repair ... →
//	         success, tree killed: Keep (state dumped; the lock waits for restore)
//	         success with --leave-running, or failure: thaw → Unlock
//	restore: netns of its own: LockNetns right after the netns is made
//	         (the peers' retransmits would meet an empty namespace);
//	         tasks resumed → UnlockDumped (the host table of the dump,
//	         by id) and Unlock (the new netns's).
//	         A failed restore keeps the dump's lock, as CRIU does: the
//	         peers keep retransmitting and a second restore can still
//	         take the connections over; `nft delete table inet CRIU-ID`
//	         gives them up.
//
// # Crash safety
//
// Before a lock is made, its record is written to RecordDir (a tmpfs,
// /run/criu-netlock: a reboot drops records and rules together) as
// ID.json: the method, the owner criu's pid and start time (clock ticks
// after boot, /proc/PID/stat field 22), the namespace's task (pid and
// start time) for the netns flavor, criu's own namespace for the host
// flavor (RecordDir is shared by namespaces on one machine: a criu
// leaves the host-flavor records of other namespaces alone while a task
// or a /run/netns file holds them, and drops them after), and the
// state. The table's comment
// names the owner as well, for whoever lists the ruleset. Sweep, which
// every criu dump, restore and check runs first, removes the lock of
// each record in state locking whose owner is no longer running (the
// same pid with the same start time): a criu killed mid-dump leaves the
// connections locked only until the next criu starts. A record in state
// dumped is kept in the host flavor (its restore removes it), and
// dropped with the netns flavor once the namespace's task is gone (the
// namespace, and its table, went with the tree). A dump restored on
// another host leaves its lock on the first one, as CRIU does (the
// address moved with the tree; `nft delete table inet CRIU-ID` there).
package netlock
