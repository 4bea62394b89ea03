package linux

import "encoding/binary"

// userfaultfd ABI (include/uapi/linux/userfaultfd.h) and PAGEMAP_SCAN
// (include/uapi/linux/fs.h).
const (
	UFFD_API                     = 0xaa
	UFFD_FEATURE_WP_ASYNC        = 1 << 15
	UFFD_USER_MODE_ONLY          = 1
	UFFDIO_API                   = 0xc018aa3f // _IOWR(0xaa, 0x3f, struct uffdio_api)
	UFFDIO_REGISTER              = 0xc020aa00 // _IOWR(0xaa, 0x00, struct uffdio_register)
	UFFDIO_REGISTER_MODE_MISSING = 1 << 0
	UFFDIO_REGISTER_MODE_WP      = 1 << 1
	UFFDIO_COPY                  = 0xc028aa03 // _IOWR(0xaa, 0x03, struct uffdio_copy)
	UFFDIO_COPY_MODE_DONTWAKE    = 1 << 0
	UFFDIO_COPY_IOCTL_BIT        = 1 << 0x03  // _UFFDIO_COPY in uffdio_register.ioctls
	UFFDIO_WRITEPROTECT          = 0xc018aa06 // _IOWR(0xaa, 0x06, struct uffdio_writeprotect)
	UFFDIO_WRITEPROTECT_MODE_WP  = 1 << 0
	UFFDIO_UNREGISTER            = 0x8010aa01 // _IOR(0xaa, 0x01, struct uffdio_range)
	UFFDIO_WAKE                  = 0x8010aa02 // _IOR(0xaa, 0x02, struct uffdio_range)

	UFFD_FEATURE_PAGEFAULT_FLAG_WP = 1 << 0
	UFFD_FEATURE_EVENT_REMAP       = 1 << 2
	UFFD_FEATURE_EVENT_REMOVE      = 1 << 3
	UFFD_FEATURE_EVENT_UNMAP       = 1 << 6

	// struct uffd_msg's event.
	UFFD_EVENT_PAGEFAULT = 0x12
	UFFD_EVENT_FORK      = 0x13
	UFFD_EVENT_REMAP     = 0x14
	UFFD_EVENT_REMOVE    = 0x15
	UFFD_EVENT_UNMAP     = 0x16

	UFFD_PAGEFAULT_FLAG_WRITE = 1 << 0
	UFFD_PAGEFAULT_FLAG_WP    = 1 << 1
	PAGEMAP_SCAN              = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	PAGE_IS_WRITTEN           = 1 << 1
	PAGE_IS_PRESENT           = 1 << 3
	PAGE_IS_SWAPPED           = 1 << 4
)

// UffdioAPI mirrors struct uffdio_api (include/uapi/linux/userfaultfd.h).
type UffdioAPI struct{ API, Features, Ioctls uint64 }

// UffdioRegister mirrors struct uffdio_register
// (include/uapi/linux/userfaultfd.h; range as start, len).
type UffdioRegister struct{ Start, Len, Mode, Ioctls uint64 }

// UffdioWriteprotect mirrors struct uffdio_writeprotect
// (include/uapi/linux/userfaultfd.h; range as start, len).
type UffdioWriteprotect struct{ Start, Len, Mode uint64 }

// UffdioCopy mirrors struct uffdio_copy
// (include/uapi/linux/userfaultfd.h).
type UffdioCopy struct {
	Dst, Src, Len, Mode uint64
	Copy                int64
}

// UffdMsgSize is sizeof(struct uffd_msg).
const UffdMsgSize = 32

// UffdMsg is struct uffd_msg (include/uapi/linux/userfaultfd.h) as
// read: the event, then the three u64 of its union: pagefault (flags,
// address, thread id), remap (from, to, len), remove and unmap (start,
// end).
type UffdMsg struct {
	Event uint8
	Arg   [3]uint64
}

// ParseUffdMsgs decodes the struct uffd_msg records in b (a read of a
// userfaultfd: whole records only).
func ParseUffdMsgs(b []byte) []UffdMsg {
	out := make([]UffdMsg, 0, len(b)/UffdMsgSize)
	for ; len(b) >= UffdMsgSize; b = b[UffdMsgSize:] {
		out = append(out, UffdMsg{Event: b[0], Arg: [3]uint64{
			binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])}})
	}
	return out
}

// UffdioRange mirrors struct uffdio_range (include/uapi/linux/userfaultfd.h).
type UffdioRange struct{ Start, Len uint64 }

// PmScanArg mirrors struct pm_scan_arg (include/uapi/linux/fs.h). Vec and
// VecLen are set by IoctlPagemapScan.
type PmScanArg struct {
	Size, Flags, Start, End, WalkEnd, Vec, VecLen, MaxPages uint64
	CatInverted, CatMask, CatAnyofMask, ReturnMask          uint64
}

// PmScanArgSize is sizeof(struct pm_scan_arg).
const PmScanArgSize = 96

// PageRegion mirrors struct page_region (include/uapi/linux/fs.h).
type PageRegion struct{ Start, End, Categories uint64 }
