// Package cow is the copy-on-write snapshot of a task's private
// anonymous memory, for a dump that lets the tree run on (dump
// --leave-running; package mm arms it and writes its pagemap): the tree
// is frozen only to write-protect that memory, and its pages are copied
// once it runs again, each before the tree's first write to it
// (criu/mem/cow.go has the kernel facts).
//
// Arm, while the task is frozen, reads the pages that are not to be
// protected (runs outside the VMAs given, or whose VMA will not
// register) and registers and write-protects the others with a uffd of
// criu's own: injected userfaultfd(2), taken with pidfd_getfd and closed
// in the task, so that only criu holds it (a criu that dies lets the tree
// go: the uffd's release wakes every writer and lifts every protection).
// Copy then writes the pages in order while one goroutine (serve)
// answers the write faults: a page written first is copied at once and
// then released.
//
// Copy reads through /proc/PID/mem opened at the freeze: the mm of the
// freeze, which fails once that mm is gone (the task exited or exec'd),
// never a new one. After each chunk it asks PAGEMAP_SCAN which of its
// pages lost their protection: a page serve saved is taken from its
// copy; any other was discarded or replaced without a write (munmap, a
// guard region) and fails the snapshot. The uffd's events say the same
// earlier, by name: munmap (UNMAP) or mremap (REMAP) of a page not yet
// copied fails it, as both come after the fact. MADV_DONTNEED and
// MADV_FREE (REMOVE) wait until their event is read, their pages intact:
// serve sees an event queued (eventQueued) before it reads, and first
// copies every page left (drain), the madvise waiting meanwhile; only a
// REMOVE queued in the microseconds between that look and the read still
// fails it. A task that cannot create a uffd able to wait in kernel mode
// (no CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=0) gets no snapshot,
// said in the log.
package cow
