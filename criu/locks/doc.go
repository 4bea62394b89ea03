// Package locks checkpoints the file locks a tree holds: flock(2),
// POSIX (fcntl F_SETLK), OFD (F_OFD_SETLK) locks and leases (F_SETLEASE)
// on regular files, in CRIU's filelocks.img.
//
// Dump: each fd's fdinfo lists the locks on its file ("lock:" lines);
// Set.Add records them, once each (a flock by open file description, a
// POSIX lock by owner and range), and refuses them without --file-locks
// (ErrFileLocks, as CRIU), on anything but a regular file, and mandatory
// locks, NFS delegations and leases being broken (ErrUnsupported). Set.Write writes filelocks.img when the
// tree holds locks.
//
// Restore: Read reads filelocks.img (none is no lock); Check refuses,
// before anything is created, locks without --file-locks, kinds and types
// restore cannot take, and locks of a task or fd the tree does not have;
// Take takes one lock back from inside the task that held it (a POSIX
// lock belongs to the fd table that took it), without blocking: a lock
// somebody else took meanwhile fails the restore.
package locks
