package procfs

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// readFile reads a /proc file whole, as os.ReadFile does, with fewer
// system calls: an open, reads into a buffer of hint bytes (doubled as
// needed) until one returns nothing, a close. os.ReadFile also stats the
// file (a /proc file says size 0) and offers the fd to the runtime's
// poller first, which a dump pays for each of the some twenty /proc files
// it reads of every task while the tree is frozen. Errors are
// *os.PathError, as os.ReadFile's.
func readFile(path string, hint int) ([]byte, error) {
	fd, err := linux.RetryEINTR(linux.Always, func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, max(hint, 512))
	n := 0
	for {
		if n == len(b) {
			b = append(b, make([]byte, len(b))...)
		}
		m, err := linux.RetryEINTR(linux.Always, func() (int, error) { return unix.Read(fd, b[n:]) })
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return b[:n], nil
		}
		n += m
	}
}
