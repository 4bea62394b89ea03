// Package pipes checkpoints the pipes and named pipes (fifos) of a tree
// with their buffered bytes. Both halves live here; criu/dump and
// criu/restore call them.
//
// What belongs here: pipe and fifo entries, pipes-data.img and
// fifo-data.img, a pipe's --inherit-fd key, the shell-job test of a stdio
// pipe's other end. What does not: the fd table walk and file ids
// (criu/dump), installing the fds in the tasks and --inherit-fd itself
// (criu/restore), the reg entry naming a fifo (package files).
//
// # Dump
//
// A pipe is one inode; Set.AddPipe records each end open in the tree
// and, the first time the pipe is seen, its buffer size and buffered
// bytes, copied with tee(2) from a pidfd_getfd copy, which leaves them
// in place. A pipe with an end outside the tree (a supervisor's stdio)
// is dumped as CRIU does: its bytes only when its read end is in the
// tree (those a task only writes belong to the reader outside), for
// restore to make anew or take from --inherit-fd fd[N]:pipe:[INO]. A fifo
// (Set.AddFifo) is, as in CRIU, a reg entry naming it in the file system
// (package files), a FIFO entry pointing to it (regf_id) with the fifo's
// inode as pipe_id, and its bytes read the same way; unlike an anonymous
// pipe, it may have an end outside the tree. EndInTree tells, with
// --shell-job, a stdio pipe of the shell's pipeline (no task of the tree
// holds its other end).
//
// # Restore
//
// Masters creates, in the restorer, the descriptions that tasks get
// copies of with pidfd_getfd: a pipe is made once, sized and filled with
// its dumped bytes, and each description of an end after the first is a
// new open of it through /proc/self/fd; a fifo is opened O_RDWR at its
// path the first time (which never blocks and keeps it alive until the
// tasks hold it), made again with mkfifo and its dumped mode if it is
// missing, filled, and each description reopened with its access mode.
// An inherited pipe (--inherit-fd fd[N]:pipe:[INO], Key) is reopened by
// criu/restore through /proc/self/fd/N with the dumped flags; the bytes
// the images hold for it are not written to it.
//
// # Images
//
//	pipes-data.img   for each pipe with bytes or a buffer size: a
//	fifo-data.img    PipeDataEntry (pipe_id: the inode, bytes, size:
//	                 F_GETPIPE_SZ), then its bytes
//
//	+----------------+-------------+----------------+-------------+--
//	| PipeDataEntry  | bytes bytes | PipeDataEntry  | bytes bytes | ...
//	+----------------+-------------+----------------+-------------+--
//
// The pipe and fifo entries (PipeEntry, FifoEntry) are entries of
// files.img, which the dump writes for every kind of file.
package pipes
