// Package timens saves and restores the clocks of the tree's time
// namespace, as CRIU does (criu/timens.c): CLOCK_MONOTONIC and
// CLOCK_BOOTTIME are saved as the tree saw them at dump, and restore
// puts the tasks in a new time namespace whose offsets make both clocks
// go on from those values, instead of jumping with the new host's
// uptime (or going backwards on a host that booted later).
//
// # Image (N is the time namespace's object id)
//
//	timens-N.img  header MagicCommon, 0x43114433 (TIMENS), then one
//	              TimensEntry{monotonic, boottime}             (CRIU: same)
//
// A tree in a time namespace of its own has timens-N.img with N its
// time_ns_id; a tree in criu's time namespace has timens-0.img with
// criu's clocks, and is restored in a new time namespace all the same
// (CRIU 4.2 does both). Images without either (our dumps before this
// package) restore in the restorer's time namespace.
//
// # Kernel facts
//
// /proc/PID/timens_offsets shows and sets the offsets of PID's
// time_for_children namespace, each clock's offset from the host's
// (init namespace's) clock. A new namespace (unshare(CLONE_NEWTIME))
// starts with its creator's offsets, which can be written only until a
// task enters it, and only by a writer with CAP_SYS_TIME over its user
// namespace. unshare(CLONE_NEWTIME) moves no task: the caller's
// children are created in it (time_for_children). Restore therefore has
// the stub that clones the root unshare, writes the stub's offsets,
// then clones the root (Enter).
package timens
