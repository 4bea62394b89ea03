package mem

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// A copy-on-write snapshot of private anonymous memory (dump
// --leave-running): a userfaultfd in synchronous write-protect mode
// (no UFFD_FEATURE_WP_ASYNC). A write to a protected page stops the
// writer and queues a UFFD_EVENT_PAGEFAULT with UFFD_PAGEFAULT_FLAG_WP
// until the holder of the uffd lifts the protection of that page
// (UFFDIO_WRITEPROTECT without MODE_WP wakes the writer): the page can be
// copied first.
//
// Unlike a tracker, the uffd is created without UFFD_USER_MODE_ONLY: with
// it a write from kernel mode (read(2) into a protected buffer) would
// fail with EFAULT instead of waiting. So the task needs CAP_SYS_PTRACE
// or vm.unprivileged_userfaultfd=1.
//
// Kernel facts (fs/userfaultfd.c, Linux 6.18) about the pages that go
// without a write:
//   - MADV_DONTNEED and MADV_FREE send UFFD_EVENT_REMOVE before the zap
//     and wait, but only until the event is read: userfaultfd_ctx_read
//     completes every event but FORK as it hands it out, and the madvise
//     goes on. The monitor can copy the range first only if it knows an
//     event is queued before reading it: every such event raises
//     mmap_changing before it is queued, until it is read, and
//     UFFDIO_WRITEPROTECT answers EAGAIN meanwhile (before it looks at
//     the range).
//   - munmap (and brk shrinking, mmap MAP_FIXED over, mremap shrinking)
//     sends UFFD_EVENT_UNMAP after the pages are gone, and does not wait.
//   - mremap moving a registered VMA sends UFFD_EVENT_REMAP after the
//     move; with the feature the pages keep their protection at the new
//     address (without it they would lose it silently).
//   - Without UFFD_FEATURE_EVENT_FORK a child forked meanwhile gets its
//     VMAs unregistered and its ptes unprotected; the parent's stay
//     protected, shared copy-on-write: the snapshot is the parent's and
//     stays exact.
//   - Every ioctl but UFFDIO_API fails with ESRCH once the mm is gone
//     (the task exited, or exec'd), and UFFDIO_WRITEPROTECT with EAGAIN
//     while a non-cooperative event is queued and unread (mmap_changing).

// CowFeatures are the uffd API features of a snapshot: the events by
// which a page that goes without a write is seen.
const CowFeatures = linux.UFFD_FEATURE_PAGEFAULT_FLAG_WP | linux.UFFD_FEATURE_EVENT_REMOVE |
	linux.UFFD_FEATURE_EVENT_UNMAP | linux.UFFD_FEATURE_EVENT_REMAP

// CowUserfaultfdFlags are the flags to create a snapshot's uffd with (in
// the task, by an injected userfaultfd(2)).
const CowUserfaultfdFlags = unix.O_CLOEXEC | unix.O_NONBLOCK

// CowInit enables synchronous write-protect and the snapshot's events
// on a fresh uffd.
func CowInit(fd int) error {
	a := linux.UffdioAPI{API: linux.UFFD_API, Features: CowFeatures}
	if err := linux.IoctlUffdioAPI(fd, &a); err != nil {
		return fmt.Errorf("userfaultfd API (write-protect, remove, unmap and remap events): %w", err)
	}
	return nil
}

// Unprotect lifts the write protection of r and wakes the writers
// waiting there. It returns unix.EAGAIN (wrapped) while an event is
// queued unread, unix.ESRCH once the mm is gone.
func Unprotect(fd int, r Range) error {
	a := linux.UffdioWriteprotect{Start: r.Start, Len: r.Len()}
	if err := linux.IoctlUffdioWriteprotect(fd, &a); err != nil {
		return fmt.Errorf("userfaultfd unprotect %#x-%#x: %w", r.Start, r.End, err)
	}
	return nil
}

// Unregister ends the registration of r (one whole VMA or more), which
// lifts the protection of its pages and wakes their writers.
func Unregister(fd int, r Range) error {
	a := linux.UffdioRange{Start: r.Start, Len: r.Len()}
	if err := linux.IoctlUffdioUnregister(fd, &a); err != nil {
		return fmt.Errorf("userfaultfd unregister %#x-%#x: %w", r.Start, r.End, err)
	}
	return nil
}

// ReadUffd reads the messages queued on a non-blocking uffd into buf (a
// multiple of linux.UffdMsgSize); none (nil, nil) when the queue is empty.
func ReadUffd(fd int, buf []byte) ([]linux.UffdMsg, error) {
	n, err := linux.RetryEINTR(linux.Always, func() (int, error) { return unix.Read(fd, buf) })
	if errors.Is(err, unix.EAGAIN) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read userfaultfd: %w", os.NewSyscallError("read", err))
	}
	return linux.ParseUffdMsgs(buf[:n]), nil
}

// Wake wakes the writers waiting in r without touching its protection
// (their VMA went).
func Wake(fd int, r Range) error {
	a := linux.UffdioRange{Start: r.Start, Len: r.Len()}
	if err := linux.IoctlUffdioWake(fd, &a); err != nil {
		return fmt.Errorf("userfaultfd wake %#x-%#x: %w", r.Start, r.End, err)
	}
	return nil
}
