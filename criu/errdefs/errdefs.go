// Package errdefs holds the errors that the orchestrators (criu/dump,
// criu/restore) and the kernel-object packages share, so that a refusal
// made in an object package is seen by callers with errors.Is against
// one sentinel whatever package raised it.
//
// dump and restore re-export these under their old names (dump.ErrUnsupported,
// restore.ErrBadImage, ...); new code in an object package uses errdefs.
package errdefs

import (
	"errors"
	"fmt"
)

// Refusals made while dumping.
var (
	// ErrUnsupported marks an object that dump cannot save or that
	// restore cannot rebuild from the images.
	ErrUnsupported = errors.New("unsupported")
	// ErrNoTask: the pid does not exist.
	ErrNoTask = errors.New("no such task")
	// ErrShellJob marks a task tied to the shell that started it (a
	// terminal, stdio reaching outside the tree, the shell's session):
	// dumpable only with --shell-job.
	ErrShellJob = errors.New("belongs to the shell that started the task: dump with --shell-job")
	// ErrBadParent: the parent images (--prev-images-dir) cannot be used.
	ErrBadParent = errors.New("bad parent images")
	// ErrTCPEstablished marks an established TCP connection dumped or
	// restored without --tcp-established (or --tcp-close).
	ErrTCPEstablished = errors.New("established TCP connection: dump and restore need --tcp-established")
	// ErrFileLocks marks a file lock held by a task of the tree: saved
	// only with --file-locks, as CRIU.
	ErrFileLocks = errors.New("file lock held: dump with --file-locks")
	// ErrUnreachable marks a task's root or cwd that no path from
	// criu's root leads to (one in another mount namespace): restoring
	// it needs mount namespaces, which are not checkpointed yet.
	ErrUnreachable = errors.New("is not reachable by path from criu's root (another mount namespace's, which the tree does not have of its own)")
	// ErrOutside marks an object one of whose ends is held outside the
	// dumped tree.
	ErrOutside = errors.New("reaches outside the dumped tree")
)

// Refusals made while restoring.
var (
	// ErrPidTaken: a process or thread already has the dumped pid or tid.
	ErrPidTaken = errors.New("pid is taken")
	// ErrBadImage: the images are inconsistent.
	ErrBadImage = errors.New("bad image")
)

// FdError names the file descriptor dump could not save.
type FdError struct {
	Fd   int
	Type string // "pipe", "socket", "anon_inode:[eventfd]", ...
	Err  error
}

func (e *FdError) Error() string {
	return fmt.Sprintf("fd %d (%s): %v", e.Fd, e.Type, e.Err)
}

func (e *FdError) Unwrap() error { return e.Err }

// VmaError names the mapping dump could not save.
type VmaError struct {
	Start, End uint64
	Path       string
	Err        error
}

func (e *VmaError) Error() string {
	return fmt.Sprintf("mapping %#x-%#x %s: %v", e.Start, e.End, e.Path, e.Err)
}

func (e *VmaError) Unwrap() error { return e.Err }
