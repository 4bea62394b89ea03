// Package files checkpoints the files a tree opens by path: regular
// files, directories and non-terminal devices (a reg entry of
// files.img), the ghosts among them (files, directories and fifos
// deleted while open or mapped, or a deleted cwd), and the owner and signal of every
// open file (fown). Both halves live here; criu/dump and criu/restore
// call them.
//
// What belongs here: the reg and remap entries, the ghost images, the
// fown of a file entry, the reachability of a task's cwd and root. What
// does not: the walk of a task's fd table, the file ids, sharing of
// descriptions between fds (kcmp), fdinfo entries (criu/dump); opening
// the fds in the task and --inherit-fd (criu/restore); other kinds of
// files (pipes and fifos are package pipes').
//
// # Dump
//
// Set.AddReg records a regular file by its path from criu's root, its
// flags, position, size and mode; mapped files of the same path and
// flags share one entry (Set.Unshare gives an fd its own). SetFown reads
// a file's owner and signal (F_GETOWN_EX, F_GETOWNER_UIDS, F_GETSIG:
// fown, as CRIU) from a pidfd_getfd copy; the owner is recorded as the
// tree sees it (Tree.InnerOwner), and an owner outside the tree is
// refused (ErrUnsupported). Files and directories deleted while open (or
// a deleted cwd) are ghosts (ghost-file-ID.img: mode, owner, times, and
// for files of 3 pages or more the data as chunks found with
// SEEK_DATA/SEEK_HOLE, which keeps the holes), each file opened from one
// named in remap-fpath.img. The cwd and root must be reachable by path
// from criu's root (FsDir), unless the tree's mount namespace is dumped:
// a container's (pivot_root with the old root detached) are saved as it
// sees them, and restore opens them inside it (package mntns).
//
// # Restore
//
// Ghosts.Make makes the ghost files again at their path (with their
// holes, mode, owner and times; a ghost directory with the removed
// directories above it; a container's on its mounts, through
// /proc/ROOT/root, Ghosts.Root); Ghosts.Path says where each file is opened
// from (Ghosts.Link: a file CRIU's dump with --link-remap linked in its
// directory, a LINKED remap, is linked back to its own name), and
// Ghosts.Remove removes them once every file is open. Each
// file's owner and signal are set (RestoreFowns) from inside the task
// once every thread exists, before its creds, with the real and
// effective uid the owner was recorded with. RegKey is a file's name for
// --inherit-fd fd[N]:path/to/file (its path without the leading /),
// which gives the very description of criu's fd N.
//
// # Images
//
//	remap-fpath.img      RemapFilePathEntry per ghosted file: orig_id (the
//	                     file), remap_id (its ghost), REMAP_TYPE_GHOST
//	                     (read too: REMAP_TYPE_LINKED, remap_id a reg
//	                     entry of files.img, the link CRIU's dump made)
//	ghost-file-ID.img    (ID in hex) one GhostFileEntry (uid, gid, mode,
//	                     dev as major<<20|minor, ino, atim, mtim), then:
//	                       a directory or a fifo: nothing (a fifo's
//	                       bytes are in fifo-data.img, package pipes)
//	                       a file under 3 pages: its size bytes, raw
//	                       otherwise (chunks, size set): for each run of
//	                       data a GhostChunkEntry (off, len), then len bytes
//
//	+-----------------+------------------+-------+------------------+-------+--
//	| GhostFileEntry  | GhostChunkEntry  | bytes | GhostChunkEntry  | bytes | ...
//	+-----------------+------------------+-------+------------------+-------+--
//
// The reg entries themselves are entries of files.img, which the dump
// writes for every kind of file.
package files
