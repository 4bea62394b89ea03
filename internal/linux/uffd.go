package linux

// userfaultfd ABI (include/uapi/linux/userfaultfd.h) and PAGEMAP_SCAN
// (include/uapi/linux/fs.h).
const (
	UFFD_API                    = 0xaa
	UFFD_FEATURE_WP_ASYNC       = 1 << 15
	UFFD_USER_MODE_ONLY         = 1
	UFFDIO_API                  = 0xc018aa3f // _IOWR(0xaa, 0x3f, struct uffdio_api)
	UFFDIO_REGISTER             = 0xc020aa00 // _IOWR(0xaa, 0x00, struct uffdio_register)
	UFFDIO_REGISTER_MODE_WP     = 1 << 1
	UFFDIO_WRITEPROTECT         = 0xc018aa06 // _IOWR(0xaa, 0x06, struct uffdio_writeprotect)
	UFFDIO_WRITEPROTECT_MODE_WP = 1 << 0
	PAGEMAP_SCAN                = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	PAGE_IS_WRITTEN             = 1 << 1
)

// UffdioAPI mirrors struct uffdio_api (include/uapi/linux/userfaultfd.h).
type UffdioAPI struct{ API, Features, Ioctls uint64 }

// UffdioRegister mirrors struct uffdio_register
// (include/uapi/linux/userfaultfd.h; range as start, len).
type UffdioRegister struct{ Start, Len, Mode, Ioctls uint64 }

// UffdioWriteprotect mirrors struct uffdio_writeprotect
// (include/uapi/linux/userfaultfd.h; range as start, len).
type UffdioWriteprotect struct{ Start, Len, Mode uint64 }

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
