package kerndat

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

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
