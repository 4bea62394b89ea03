package image

import "golang.org/x/sys/unix"

// VMA status bits of vma_entry.status (CRIU's criu/include/image.h).
const (
	VmaAreaRegular  = 1 << 0
	VmaAreaStack    = 1 << 1
	VmaAreaVsyscall = 1 << 2
	VmaAreaVdso     = 1 << 3
	VmaAreaHeap     = 1 << 5
	VmaFilePrivate  = 1 << 6
	VmaFileShared   = 1 << 7
	VmaAnonShared   = 1 << 8
	VmaAnonPrivate  = 1 << 9
	VmaAreaSysvipc  = 1 << 10
	VmaAreaSocket   = 1 << 11 // a packet socket's ring (PACKET_MMAP)
	VmaAreaVvar     = 1 << 12
	VmaAreaAioring  = 1 << 13
	VmaAreaMemfd    = 1 << 14
	// VmaAccount is a criugo extension: the mapping had VM_ACCOUNT ("ac"
	// in smaps VmFlags) though it may be read-only now, so restore maps it
	// writable first (which is what sets VM_ACCOUNT) and mprotects after.
	VmaAccount = 1 << 20
	// VmaLockOnFault (criugo): the mapping was locked with
	// mlock2(MLOCK_ONFAULT) ("lf"); restore locks it the same way
	// instead of mapping it MAP_LOCKED.
	VmaLockOnFault = 1 << 21
	// VmaSealed (criugo): the mapping was sealed with mseal(2) ("sl");
	// restore seals it once it is complete.
	VmaSealed = 1 << 22
	// VmaGuard (criugo): the mapping had guard regions ("gu",
	// VM_MAYBE_GUARD); vma_entry guards lists those it still has.
	VmaGuard = 1 << 23
)

// Guard region advice (include/uapi/asm-generic/mman-common.h, 6.13+).
const (
	MadvGuardInstall = 102
	MadvGuardRemove  = 103
)

// MadvFlags maps smaps VmFlags to the madvise advice that sets them; the
// vma_entry madv field holds 1<<advice for each.
var MadvFlags = map[string]int{
	"rr": unix.MADV_RANDOM,
	"sr": unix.MADV_SEQUENTIAL,
	"dc": unix.MADV_DONTFORK,
	"mg": unix.MADV_MERGEABLE,
	"hg": unix.MADV_HUGEPAGE,
	"nh": unix.MADV_NOHUGEPAGE,
	"dd": unix.MADV_DONTDUMP,
	"wf": unix.MADV_WIPEONFORK,
}
