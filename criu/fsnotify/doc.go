// Package fsnotify checkpoints inotify files with their watches, and
// fanotify files with their marks.
//
// Dump (Set.Add): each watch's mask, ignored mask, watch descriptor, file
// handle (as CRIU: fh_entry, the handle's bytes zero-padded to 16 words)
// and the path found by opening the handle through a mount of its
// superblock. A watched file no path leads to (deleted, or moved away
// from the name the handle shows) keeps its handle only, as CRIU; restore
// watches the ghost copy of it the tree's own fds get, or else opens the
// handle. Set.Check, once every fd of the tree is recorded, refuses those
// on file systems whose handles do not outlive the inode (tmpfs,
// devtmpfs) that are no ghost of the tree.
//
// Restore (Open): the watches are added back by path, each with its
// dumped watch descriptor (the kernel hands them out in increasing order,
// so a watch is added and removed until it gets its number; the
// IN_IGNORED events of the removals are read away), on the ghost copy for
// a deleted file, through /proc/self/fd of its opened handle for one
// known by handle only. Events queued at dump time are not in the images
// (CRIU drops them too); Drain reads away those the restore itself
// queued.
//
// fanotify (AddFanotify, OpenFanotify): the group's fanotify_init flags
// and event flags from its fdinfo, and each mark with its mark flags,
// mask and ignored mask: an inode mark by its file handle and the path
// the handle opens, a mount mark by mnt_id and its mount point, a
// filesystem mark as a mount mark on a mount of its filesystem with
// FAN_MARK_FILESYSTEM in its mark flags (CRIU's image has no type for
// it; CRIU 4.2's restore of it fails, EINVAL, instead of losing it),
// made again below the root task's /proc/PID/root (so in the tree's
// mount namespace). Mount namespace marks (CRIU's image has no such
// type), marks on files no path leads to and permission events
// (restore's own opens would wait for an answer) are refused by name.
// Queued events are not saved; DrainFanotify reads away (closing their
// fds) those the restore itself queued.
package fsnotify
