package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// SeekableCopy copies r into an unlinked temporary file (O_TMPFILE in
// os.TempDir, or a created-then-removed file where O_TMPFILE is not
// supported) and returns it rewound to offset 0. Tools that need a
// seekable stdin (ip route restore reads with ftell) get this file. The
// caller closes it; nothing is left on disk.
func SeekableCopy(ctx context.Context, r io.Reader) (*os.File, error) {
	dir := os.TempDir()
	var f *os.File
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	switch {
	case err == nil:
		f = os.NewFile(uintptr(fd), dir+"/(O_TMPFILE)")
	case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL):
		f, err = os.CreateTemp(dir, ".criu-seekable-*")
		if err != nil {
			return nil, fmt.Errorf("seekable copy: %w", err)
		}
		if err := os.Remove(f.Name()); err != nil {
			f.Close()
			return nil, fmt.Errorf("seekable copy: %w", err)
		}
	default:
		return nil, fmt.Errorf("seekable copy: %w", os.NewSyscallError("open O_TMPFILE", err))
	}
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		f.Close()
		return nil, fmt.Errorf("seekable copy: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seekable copy: %w", err)
	}
	return f, nil
}

// ctxReader aborts a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
