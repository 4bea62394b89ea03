package mem

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Write tracking without soft-dirty bits: userfaultfd write-protect in
// asynchronous mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7) plus the
// PAGEMAP_SCAN ioctl on /proc/PID/pagemap. A VMA registered for
// write-protect on a uffd with WP_ASYNC has its present pages
// write-protected by UFFDIO_WRITEPROTECT; the first write to such a page
// is resolved by the kernel itself (no fault handler runs), clearing the
// protection, which PAGEMAP_SCAN then reports as PAGE_IS_WRITTEN. A page
// that was not present when protected (or was zapped since) comes back
// unprotected, so it is reported as written too.
//
// UFFD_FEATURE_WP_UNPOPULATED is not asked for on purpose: with it the
// kernel puts markers in empty page table entries, which
// /proc/PID/pagemap shows as swapped pages (PM_SWAP), and the dump would
// take every never-touched page as data. Without it PAGEMAP_SCAN may not
// protect anonymous memory (PM_SCAN_WP_MATCHING skips it), hence the
// separate UFFDIO_WRITEPROTECT.
//
// The uffd is created in the tracked process (userfaultfd binds the
// caller's mm) but every ioctl on it may come from whoever holds the
// file: the dumper takes it with pidfd_getfd.

// userfaultfd ABI (include/uapi/linux/userfaultfd.h).
const (
	uffdAPI              = 0xaa
	uffdFeatureWPAsync   = 1 << 15
	uffdioAPI            = 0xc018aa3f // _IOWR(0xaa, 0x3f, struct uffdio_api)
	uffdioRegister       = 0xc020aa00 // _IOWR(0xaa, 0x00, struct uffdio_register)
	uffdioRegisterModeWP = 1 << 1
	uffdioWriteprotect   = 0xc018aa06 // _IOWR(0xaa, 0x06, struct uffdio_writeprotect)
	uffdioWriteprotectWP = 1 << 0
	pagemapScanReq       = 0xc0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pageIsWritten        = 1 << 1
	scanVecLen           = 4096
	uffdFeaturesTracking = uffdFeatureWPAsync
	uffdUserModeOnly     = 1 // UFFD_USER_MODE_ONLY
)

// TrackerFeatures are the uffd API features a tracker asks for (shown in
// its fdinfo), by which a dump knows a tracker left by an earlier one.
const TrackerFeatures = uffdFeaturesTracking

// UserfaultfdFlags are the flags to create a tracking uffd with (in the
// tracked process, by an injected userfaultfd(2)). UFFD_USER_MODE_ONLY
// lets a task without CAP_SYS_PTRACE create it when
// vm.unprivileged_userfaultfd is 0; it changes nothing for asynchronous
// write-protect, which the kernel resolves without a userfault, from
// user and kernel mode alike.
const UserfaultfdFlags = unix.O_CLOEXEC | unix.O_NONBLOCK | uffdUserModeOnly

// uffdioAPIArg mirrors struct uffdio_api.
type uffdioAPIArg struct{ API, Features, Ioctls uint64 }

// uffdioRegisterArg mirrors struct uffdio_register.
type uffdioRegisterArg struct{ Start, Len, Mode, Ioctls uint64 }

// uffdioWriteprotectArg mirrors struct uffdio_writeprotect.
type uffdioWriteprotectArg struct{ Start, Len, Mode uint64 }

// pmScanArg mirrors struct pm_scan_arg (include/uapi/linux/fs.h).
type pmScanArg struct {
	Size, Flags, Start, End, WalkEnd, Vec, VecLen, MaxPages uint64
	CatInverted, CatMask, CatAnyofMask, ReturnMask          uint64
}

// pageRegion mirrors struct page_region.
type pageRegion struct{ Start, End, Categories uint64 }

// TrackerInit enables asynchronous write-protect on a fresh uffd.
func TrackerInit(fd int) error {
	a := uffdioAPIArg{API: uffdAPI, Features: uffdFeaturesTracking}
	if err := ioctlPtr(fd, uffdioAPI, &a); err != nil {
		return fmt.Errorf("userfaultfd API (WP_ASYNC): %w", os.NewSyscallError("ioctl", err))
	}
	return nil
}

// TrackerRegister registers r (one whole VMA) for write-protect.
func TrackerRegister(fd int, r Range) error {
	a := uffdioRegisterArg{Start: r.Start, Len: r.Len(), Mode: uffdioRegisterModeWP}
	if err := ioctlPtr(fd, uffdioRegister, &a); err != nil {
		return fmt.Errorf("userfaultfd register %#x-%#x: %w", r.Start, r.End, os.NewSyscallError("ioctl", err))
	}
	return nil
}

// TrackerProtect write-protects the present pages of r (registered).
func TrackerProtect(fd int, r Range) error {
	a := uffdioWriteprotectArg{Start: r.Start, Len: r.Len(), Mode: uffdioWriteprotectWP}
	if err := ioctlPtr(fd, uffdioWriteprotect, &a); err != nil {
		return fmt.Errorf("userfaultfd write-protect %#x-%#x: %w", r.Start, r.End, os.NewSyscallError("ioctl", err))
	}
	return nil
}

// ScanWritten returns the pages of r that are not write-protected: in a
// VMA registered with a tracking uffd, those written (or faulted in)
// since TrackerProtect; elsewhere every page. Sorted, disjoint.
func (p *Pagemap) ScanWritten(r Range) ([]Range, error) {
	var out []Range
	vec := make([]pageRegion, scanVecLen)
	start := r.Start
	for start < r.End {
		a := pmScanArg{Size: 96, Start: start, End: r.End,
			VecLen: scanVecLen, CatMask: pageIsWritten, ReturnMask: pageIsWritten}
		n, err := pagemapScan(int(p.f.Fd()), &a, vec)
		if err != nil {
			return nil, fmt.Errorf("PAGEMAP_SCAN %#x-%#x: %w", start, r.End, os.NewSyscallError("ioctl", err))
		}
		for _, g := range vec[:n] {
			if k := len(out); k > 0 && out[k-1].End == g.Start {
				out[k-1].End = g.End
			} else {
				out = append(out, Range{g.Start, g.End})
			}
		}
		if a.WalkEnd <= start {
			return nil, fmt.Errorf("PAGEMAP_SCAN %#x-%#x: no progress", start, r.End)
		}
		start = a.WalkEnd
	}
	return out, nil
}
