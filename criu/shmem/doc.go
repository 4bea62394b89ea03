// Package shmem saves and restores shared memory objects whole: the
// shmem inode behind a MAP_SHARED|MAP_ANONYMOUS or /dev/zero MAP_SHARED
// mapping (with the files that map_files opens of it: anon.go), and a
// memfd (memfd.go). Each object is written once for the
// whole tree, not through the page tables of the tasks that map it: a
// page that only an exited task faulted in is in no living task's page
// tables but is in the object, and must come back.
//
// # Which pages exist
//
// The object is opened through /proc/PID/map_files/START-END of any task
// that maps it (or /proc/PID/fd/N for a memfd fd), and its data is found
// with lseek SEEK_DATA/SEEK_HOLE, as CRIU does: shmem answers from its
// page cache and swap entries, so the runs are exact (a page in swap is
// data; a hole is never read and stays a hole after restore). The cost
// is one lseek pair per run of data, not per page: a 1 GiB object with
// 256 scattered pages takes well under a millisecond to scan. Data is
// read with pread on that fd, which never faults pages into the dumper.
//
// # Images (ID is the object's shmid: the inode number of the mapping)
//
//	pagemap-shmem-ID.img  header MagicCommon, 0x56084025 (PAGEMAP), then
//	                      PagemapHead{pages_id N}, then PagemapEntry
//	                      {vaddr = offset in the object, nr_pages,
//	                      flags PE_PRESENT} per run of data  (CRIU: same)
//	pages-N.img           the runs' bytes, in entry order, no header
//
// N comes from the tree's pages-N.img counter, after the tasks' own.
// Pages beyond the furthest mapping of the object in the tree are not
// saved: nothing could reach them after restore.
//
// Incremental dumps (pre-dump, --prev-images-dir) always write the
// objects whole: entries are never PE_PARENT, and an image whose entries
// name a parent is refused on restore.
//
// Restore creates each object in the restorer (restore/shared.go) and
// fills it with Fill before any task maps it; the tasks then map that
// one object, so their writes stay shared.
package shmem
