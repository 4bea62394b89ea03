package kerndat

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/mem"
)

// probeMemTrack checks the write tracking that incremental dumps use
// without soft-dirty bits (mem/track.go): a uffd with WP_ASYNC, a
// registered and write-protected mapping, one page written, and
// PAGEMAP_SCAN reporting exactly that page as written.
func probeMemTrack() (string, error) {
	fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, uintptr(mem.UserfaultfdFlags), 0, 0)
	if e != 0 {
		return "", os.NewSyscallError("userfaultfd", e)
	}
	defer unix.Close(int(fd))
	if err := mem.TrackerInit(int(fd)); err != nil {
		return "", err
	}
	const n = 4 * mem.PageSize
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return "", os.NewSyscallError("mmap", err)
	}
	defer unix.Munmap(b)
	start := uint64(uintptr(unsafe.Pointer(&b[0])))
	r := mem.Range{Start: start, End: start + n}
	if err := mem.TrackerRegister(int(fd), r); err != nil {
		return "", err
	}
	if err := mem.TrackerProtect(int(fd), r); err != nil {
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
