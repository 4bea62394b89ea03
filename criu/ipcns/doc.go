// Package ipcns saves and restores the state of one IPC namespace: its
// System V shared memory segments, message queues and semaphore sets,
// each with its id, key, owner and mode, and the namespace's IPC
// sysctls, in CRIU's format.
//
// What belongs here: the System V objects and sysctls of a namespace;
// the segments a tree attached when its namespace is not dumped (the
// host's: attached.go, ipcns-shm-0.img, Attached at dump, ReadAttached,
// MakeAttached and RemoveAttached at restore); attaching a segment inside
// a restored task (Attach). What does not: POSIX message queues (files
// in an mqueue mount), semaphore undo lists (per task).
//
// # Images (N is the namespace's object id)
//
//	ipcns-var-N.img  0x54564319 0x53115007 (IPC_VAR), one IpcVarEntry:
//	                 kernel/sem, msg*, shm*, auto_msgmni, fs/mqueue/*
//	                 and the *_next_id sysctls that are set
//	ipcns-shm-N.img  0x54564319 0x46283044 (IPCNS_SHM), per segment:
//	                 IpcShmEntry, then its bytes
//	ipcns-msg-N.img  0x54564319 0x55453737 (IPCNS_MSG), per queue:
//	                 IpcMsgEntry, then Qnum times an IpcMsg entry and
//	                 its text
//	ipcns-sem-N.img  0x54564319 0x59573019 (IPCNS_SEM), per set:
//	                 IpcSemEntry, then its values
//
// Entries are CRIU's (u32 length, protobuf); the data after them is raw
// and zero-padded:
//
//	shm:  | IpcShmEntry | Size bytes | pad to 4 |   (InPagemaps unset)
//	msg:  | IpcMsgEntry | IpcMsg | Msize bytes | pad to 8 | IpcMsg | ...
//	sem:  | IpcSemEntry | Nsems × u16 (little-endian) | pad to 8 |
//
// Dump writes segment contents inline, as above. Current CRIU instead
// sets InPagemaps and keeps them as memory images: pagemap-shmem-ID.img
// (ID the segment's id; a PagemapHead naming pages-N.img, then entries
// whose vaddr is an offset in the segment) and the present pages in
// pages-N.img. Restore reads both forms.
//
// # Working inside the namespace
//
// Everything runs on a thread that has joined the IPC namespace of the
// task (package nsenter): System V calls and /proc/sys/kernel/{msg,sem,
// shm}* follow the calling thread's namespace. Dump lists the objects
// with the *_INFO and *_STAT_ANY control calls, reads segments through
// an SHM_RDONLY attach in the dumper's own address space, semaphores
// with GETALL and messages with msgrcv(MSG_COPY), which leaves them
// queued (MSG_COPY copies no message longer than kernel.msgmax, so Dump
// raises msgmax for the time of the copy where a queue holds more). Restore writes kernel.*_next_id before each shmget, msgget and
// semget so that the object gets its dumped id, and checks that it did.
//
// # Order of restore
//
// Sysctls first (so that the limits admit the objects), with msgmax and
// msgmnb raised for the time of the restore where a saved message or a
// queue's qbytes exceeds them (raising a queue's qbytes above msgmnb
// would otherwise need CAP_SYS_RESOURCE); then segments, queues and
// sets; then msgmax and msgmnb as saved, shm_rmid_forced and the next
// ids. On failure every object created is removed and the sysctls
// written are set back.
//
// # Limits
//
//   - cuid and cgid (the creator) cannot be set: restored objects have
//     the restorer's.
//   - A segment marked removed (SHM_DEST, still attached at dump time)
//     is restored as a live segment with the key it then had
//     (IPC_PRIVATE), so that tasks can attach it by id; the caller
//     removes it again with Restored.Finish once they have.
//   - With shm_rmid_forced set, the kernel destroys an unattached
//     segment when its creator exits; the restoring thread is the
//     creator, so where there are segments shm_rmid_forced is left at 0
//     and a warning logged.
//   - Times (ctime, otime...) and last pids are the restore's.
//   - A segment on huge pages (SHM_HUGETLB), which SHM_STAT does not
//     tell, is found by the file of the dumper's attach (hugetlbfs,
//     huge.go) and made again on pages of its size (hugetlb_flag); one
//     of the host's namespace that the tree attached is refused. A
//     segment locked in memory (SHM_LOCKED) is locked again.
//   - A segment's bytes are its size (shm_segsz), as CRIU saves them: a
//     segment with bytes written past it in its last page (a huge page
//     for SHM_HUGETLB), which CRIU drops, is refused.
package ipcns
