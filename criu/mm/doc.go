// Package mm checkpoints and restores the memory of a task: its
// mappings (VMAs), the pages that hold data, its mm fields, the pages
// shared copy-on-write with its parent, and the tracking of written
// pages between a pre-dump and the next dump. Both halves are here; the
// dumper and the restorer call them through DumpTask and RestoreTask,
// which they implement. Lower layers: criu/mem (pagemap, page ranges,
// process_vm_readv/writev, /proc/PID/mem, the userfaultfd tracker),
// criu/mm/pageio (the copiers of page data and their buffers),
// criu/shmem (shared anonymous memory and memfd objects, saved once per
// tree), criu/image (VMA status bits, pagemap flags, madvise facts).
//
// # Dump (dump.go, vmflags.go, incremental.go, cow.go, prepare.go)
//
// Collect turns smaps into vma entries. Shared anonymous mappings and
// memfds (fds and mappings) are saved once per object by package shmem
// (the mappings are recorded through DumpTask); System V attaches are
// VMA_AREA_SYSVIPC vmas whose bytes the dumper saves once; the pages of
// neither are in the tasks' pagemaps. Every smaps VmFlag of a mapping is
// either made again by restore (protection, mapping type and flags,
// madvise, mlock2, mseal, guard regions: package vmflags) or fails the dump
// with an errdefs.VmaError naming the mapping and the flag. MM reads the
// mm fields (stat's code, data, stack, args and env; brk(0), auxv, exe,
// dumpable, THP_enabled) and the memory prctls (MDWE, KSM merging).
//
// Pages a task shares copy-on-write with its parent (the same PFN at the
// same address, read from both pagemaps before any page is read:
// Tree.FindShared) are flagged image.PeCow in its pagemap, still with
// their bytes, so that restore can leave them shared; they are read
// through /proc/PID/mem (no pin), as process_vm_readv pins what it
// reads, and pinning a shared anonymous page gives the task a copy of
// its own. A droppable mapping's pages are not saved. The root's
// pages-1.img may be readied before the freeze (prepare.go: Tree.Prepare).
// PlanPages decides which pages go to pages-N.img and which
// stay in the parent images (incremental.go: written pages are found
// with a userfaultfd in write-protect mode, not soft-dirty bits);
// WritePages reads them while the previous buffer is written. A dump
// that lets the tree run (CopyOnWrite, cow.go) write-protects the private
// anonymous pages while frozen and copies them once the tree runs, each
// before the tree's first write to it (CopyPages).
//
// # Restore (restore.go, inherit.go, parent.go; the parent chain: mm/pagemap)
//
// No code is loaded into the task: Restore injects every step. The vDSO
// and vvar move to their dumped addresses, everything else is unmapped
// but the private mappings the task inherited from its restored parent
// unchanged (inherit.go), the scratch area is mapped where no dumped
// mapping goes, the dumped mappings are created (shared memory, memfds
// and System V segments through the objects the restorer made), guard
// regions installed, pages filled from pages-N.img and then from the
// parent images (parent.go), and protections, advice and mlock set; last
// the mm fields, in one PR_SET_MM_MAP. Each task's memory is restored
// before it forks its children, so that they inherit it and keep the
// pages they shared copy-on-write with their parent shared. FinishRestore
// seals mappings (mseal) and sets MDWE and KSM merging once the task's
// children are forked.
package mm
