package mem

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
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

// The userfaultfd and PAGEMAP_SCAN ABI is internal/linux's.
const (
	scanVecLen           = 4096
	uffdFeaturesTracking = linux.UFFD_FEATURE_WP_ASYNC
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
const UserfaultfdFlags = unix.O_CLOEXEC | unix.O_NONBLOCK | linux.UFFD_USER_MODE_ONLY

// TrackerInit enables asynchronous write-protect on a fresh uffd.
func TrackerInit(fd int) error {
	a := linux.UffdioAPI{API: linux.UFFD_API, Features: uffdFeaturesTracking}
	if err := linux.IoctlUffdioAPI(fd, &a); err != nil {
		return fmt.Errorf("userfaultfd API (WP_ASYNC): %w", err)
	}
	return nil
}

// TrackerRegister registers r (one whole VMA) for write-protect.
func TrackerRegister(fd int, r Range) error {
	a := linux.UffdioRegister{Start: r.Start, Len: r.Len(), Mode: linux.UFFDIO_REGISTER_MODE_WP}
	if err := linux.IoctlUffdioRegister(fd, &a); err != nil {
		return fmt.Errorf("userfaultfd register %#x-%#x: %w", r.Start, r.End, err)
	}
	return nil
}

// TrackerProtect write-protects the present pages of r (registered).
func TrackerProtect(fd int, r Range) error {
	a := linux.UffdioWriteprotect{Start: r.Start, Len: r.Len(), Mode: linux.UFFDIO_WRITEPROTECT_MODE_WP}
	if err := linux.IoctlUffdioWriteprotect(fd, &a); err != nil {
		return fmt.Errorf("userfaultfd write-protect %#x-%#x: %w", r.Start, r.End, err)
	}
	return nil
}

// ScanPresent returns the pages of r that are present or swapped (a
// guard region page counts as swapped), as PAGEMAP_SCAN finds them:
// runs, not an entry a page as Read returns. Sorted, disjoint.
func (p *Pagemap) ScanPresent(r Range) ([]Range, error) {
	return p.scan(r, linux.PAGE_IS_PRESENT|linux.PAGE_IS_SWAPPED, true)
}

// ScanWritten returns the pages of r that are not write-protected: in a
// VMA registered with a tracking uffd, those written (or faulted in)
// since TrackerProtect; elsewhere every page. Sorted, disjoint.
func (p *Pagemap) ScanWritten(r Range) ([]Range, error) {
	return p.scan(r, linux.PAGE_IS_WRITTEN, false)
}

// scan runs PAGEMAP_SCAN over r for the pages in every category of
// cats, or (anyOf) in any of them, and returns them as merged runs.
func (p *Pagemap) scan(r Range, cats uint64, anyOf bool) ([]Range, error) {
	var out []Range
	vec := make([]linux.PageRegion, scanVecLen)
	start := r.Start
	for start < r.End {
		a := linux.PmScanArg{Size: linux.PmScanArgSize, Start: start, End: r.End,
			VecLen: scanVecLen, CatMask: cats, ReturnMask: cats}
		if anyOf {
			a.CatMask, a.CatAnyofMask = 0, cats
		}
		n, err := linux.IoctlPagemapScan(int(p.f.Fd()), &a, vec)
		if err != nil {
			return nil, fmt.Errorf("PAGEMAP_SCAN %#x-%#x: %w", start, r.End, err)
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

// IsTracker says whether uffd fd of pid looks like a tracker of ours:
// opened O_CLOEXEC|O_NONBLOCK with the WP_ASYNC feature (fdinfo "API:
// api:features:ioctls"), which nothing but a tracker of written pages
// uses.
func IsTracker(pid, fd int) bool {
	b, err := os.ReadFile(procfs.Path(pid, fmt.Sprintf("fdinfo/%d", fd)))
	if err != nil {
		return false
	}
	var flags, features uint64
	var haveFlags, haveAPI bool
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "flags":
			flags, err = strconv.ParseUint(v, 8, 64)
			haveFlags = err == nil
		case "API":
			f := strings.Split(v, ":")
			if len(f) == 3 {
				features, err = strconv.ParseUint(f[1], 16, 64)
				haveAPI = err == nil
			}
		}
	}
	const want = unix.O_CLOEXEC | unix.O_NONBLOCK
	return haveFlags && haveAPI && flags&want == want && features&TrackerFeatures == TrackerFeatures
}
