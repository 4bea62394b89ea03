package kerndat

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/internal/linux"
)

// probeMemTrack checks the write tracking that incremental dumps use
// without soft-dirty bits (mem/track.go): a uffd with WP_ASYNC, a
// registered and write-protected mapping, one page written, and
// PAGEMAP_SCAN reporting exactly that page as written.
func probeMemTrack() (string, error) {
	fd, err := linux.Userfaultfd(mem.UserfaultfdFlags)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	if err := mem.TrackerInit(fd); err != nil {
		return "", err
	}
	const n = 4 * mem.PageSize
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return "", os.NewSyscallError("mmap", err)
	}
	defer unix.Munmap(b)
	start := uint64(linux.SliceAddr(b))
	r := mem.Range{Start: start, End: start + n}
	if err := mem.TrackerRegister(fd, r); err != nil {
		return "", err
	}
	if err := mem.TrackerProtect(fd, r); err != nil {
		return "", err
	}
	b[mem.PageSize] = 1
	pm, err := mem.OpenPagemap(os.Getpid())
	if err != nil {
		return "", err
	}
	defer pm.Close()
	w, err := pm.ScanWritten(r)
	if err != nil {
		return "", err
	}
	want := mem.Range{Start: start + mem.PageSize, End: start + 2*mem.PageSize}
	if len(w) != 1 || w[0] != want {
		return "", fmt.Errorf("PAGEMAP_SCAN reports %v written, want %v", w, want)
	}
	return "userfaultfd WP_ASYNC + PAGEMAP_SCAN", nil
}

// probeGuardPages: guard regions (MADV_GUARD_INSTALL, Linux 6.13+) show
// in pagemap (PM_GUARD_REGION, 6.14+), which is how the dump finds them
// and restore installs them again (CRIU's pagemap_scan_guard_pages).
func probeGuardPages() (string, error) {
	const n = 2 * mem.PageSize
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return "", os.NewSyscallError("mmap", err)
	}
	defer unix.Munmap(b)
	if err := unix.Madvise(b[mem.PageSize:], image.MadvGuardInstall); err != nil {
		return "", fmt.Errorf("guard regions: %w", os.NewSyscallError("madvise(MADV_GUARD_INSTALL)", err))
	}
	pm, err := mem.OpenPagemap(os.Getpid())
	if err != nil {
		return "", err
	}
	defer pm.Close()
	start := uint64(linux.SliceAddr(b))
	ents, err := pm.Read(mem.Range{Start: start, End: start + n})
	if err != nil {
		return "", err
	}
	if ents[0]&mem.PMGuard != 0 || ents[1]&mem.PMGuard == 0 {
		return "", errors.New("guard regions are not shown in pagemap (PM_GUARD_REGION)")
	}
	return "MADV_GUARD_INSTALL, pagemap PM_GUARD_REGION", nil
}

// probeAioRemap: an AIO ring moved with mremap stays its context, under
// its new address (the kernel's aio_ring_mremap): how restore puts a new
// context at the dumped address (package aio).
func probeAioRemap() (string, error) {
	ctx, err := linux.IoSetup(16)
	if err != nil {
		return "", err
	}
	// A free page-aligned place: a mapping made and given back.
	b, err := unix.Mmap(-1, 0, mem.PageSize, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		linux.IoDestroy(ctx)
		return "", os.NewSyscallError("mmap", err)
	}
	to := uint64(linux.SliceAddr(b))
	moved, err := linux.Mremap(ctx, mem.PageSize, to)
	if err != nil {
		unix.Munmap(b)
		linux.IoDestroy(ctx)
		return "", fmt.Errorf("move an AIO ring: %w", err)
	}
	if err := linux.IoDestroy(moved); err != nil {
		return "", fmt.Errorf("the moved AIO ring is no context: %w", err)
	}
	return "io_setup, mremap of its ring", nil
}

// probeMemfdHugetlb: memfds on huge pages can be made (MFD_HUGETLB), as
// restore makes them again (package shmem). Whether pages are free for
// them is the system's setting (vm.nr_hugepages).
func probeMemfdHugetlb() (string, error) {
	fd, err := unix.MemfdCreate("criu-check", unix.MFD_CLOEXEC|unix.MFD_HUGETLB)
	if err != nil {
		return "", os.NewSyscallError("memfd_create(MFD_HUGETLB)", err)
	}
	unix.Close(fd)
	b, err := os.ReadFile("/proc/sys/vm/nr_hugepages")
	if err != nil {
		return "MFD_HUGETLB", nil
	}
	return "MFD_HUGETLB, vm.nr_hugepages " + strings.TrimSpace(string(b)), nil
}
