package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// ErrBadName is returned for an image name that is not a plain file name.
var ErrBadName = errors.New("bad image name")

// CheckName reports whether name can name an image: a non-empty plain file
// name, no slash, no NUL, not "." or "..", at most 255 bytes.
func CheckName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 ||
		strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return nil
}

// Dir is a Store backed by a local images directory. Images are written
// to a hidden temporary file and renamed into place on commit, so a
// reader never sees a half-written image under its real name.
//
// Big page-aligned writes (the page images) bypass the page cache with
// O_DIRECT where the file system allows it: filling fresh page cache is
// what limits a dump's speed in a VM, and a direct write is on the disk
// when it returns. Finish makes every image committed through this Dir
// durable: it fdatasyncs those files in parallel and then the directory
// (not the whole file system, which may hold other writers' dirty data).
type Dir struct {
	path string

	mu      sync.Mutex          // protects dir and written
	dir     *os.File            // open directory; nil once closed
	written map[string]struct{} // images committed since the last Finish
}

var _ Store = (*Dir)(nil)

// NewDir opens the images directory path, which must exist.
func NewDir(path string) (*Dir, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open images directory: %w", err)
	}
	return &Dir{path: path, dir: f}, nil
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// Create implements Store.
func (d *Dir) Create(ctx context.Context, name string) (Writer, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(d.path, "."+name+".part-*")
	if err != nil {
		return nil, fmt.Errorf("create image %s: %w", name, err)
	}
	return &dirWriter{d: d, ctx: ctx, f: f, final: filepath.Join(d.path, name), name: name}, nil
}

// CreateReserved implements ReservingStore: the image file's room for n
// bytes is allocated, its size unchanged (FALLOC_FL_KEEP_SIZE); on a
// file system without fallocate it is Create.
func (d *Dir) CreateReserved(ctx context.Context, name string, n int64) (Writer, error) {
	w, err := d.Create(ctx, name)
	if err != nil || n <= 0 {
		return w, err
	}
	dw := w.(*dirWriter)
	err = unix.Fallocate(int(dw.f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, n)
	switch {
	case err == nil:
		dw.reserved = n
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
	default:
		w.Abort()
		return nil, fmt.Errorf("reserve image %s: %w", name, os.NewSyscallError("fallocate", err))
	}
	return w, nil
}

// Open implements Store.
func (d *Dir) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d.path, name))
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", name, err)
	}
	return &dirReader{ctx: ctx, f: f, name: name}, nil
}

// dirReader reads an image. A big page-aligned read takes what the page
// cache holds and reads the rest with O_DIRECT: an image written with
// O_DIRECT is not cached, and filling fresh page cache costs more than
// the disk read itself in a VM.
type dirReader struct {
	ctx      context.Context // Open's: once it is done, reads fail
	f        *os.File
	direct   *os.File // f's file opened O_DIRECT; nil until needed
	noDirect bool
	off      int64
	name     string
}

func (r *dirReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.ctx.Err() != nil {
		return 0, fmt.Errorf("read image %s: %w", r.name, context.Cause(r.ctx))
	}
	if !r.noDirect && len(p) >= directMin && len(p)%directAlign == 0 &&
		r.off%directAlign == 0 && pageAligned(p) {
		n, err := unix.Preadv2(int(r.f.Fd()), [][]byte{p}, r.off, unix.RWF_NOWAIT)
		switch {
		case err == nil && n == 0:
			return 0, io.EOF
		case err == nil:
			r.off += int64(n)
			return n, nil
		case err == unix.EAGAIN:
			if n, ok, err := r.readDirect(p); ok {
				return n, err
			}
		}
	}
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read image %s: %w", r.name, err)
	}
	return n, err
}

// readDirect reads p at r.off through O_DIRECT; ok is false when the file
// system does not take it.
func (r *dirReader) readDirect(p []byte) (n int, ok bool, err error) {
	if r.direct == nil {
		f, err := os.OpenFile(r.f.Name(), os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		if err != nil {
			r.noDirect = true
			return 0, false, nil
		}
		r.direct = f
	}
	n, err = linux.Pread(int(r.direct.Fd()), p, r.off)
	switch {
	case errors.Is(err, unix.EINVAL):
		r.noDirect = true
		return 0, false, nil
	case err != nil:
		return 0, true, fmt.Errorf("read image %s: %w", r.name, err)
	case n == 0:
		return 0, true, io.EOF
	}
	r.off += int64(n)
	return n, true, nil
}

// File is the image's open file (FileReader).
func (r *dirReader) File() *os.File { return r.f }

// Close closes the image. Safe twice.
func (r *dirReader) Close() error {
	if r.direct != nil {
		r.direct.Close()
		r.direct = nil
	}
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Finish implements Store: it flushes every image committed through d
// since the last Finish, and the directory entries naming them, to disk.
func (d *Dir) Finish(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir == nil {
		return os.ErrClosed
	}
	var names []string
	for name := range d.written {
		names = append(names, name)
	}
	errs := make([]error, len(names))
	sem := make(chan struct{}, syncParallel)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = syncFile(filepath.Join(d.path, name))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := unix.Fsync(int(d.dir.Fd())); err != nil {
		return fmt.Errorf("sync images directory: %w", os.NewSyscallError("fsync", err))
	}
	d.written = nil
	return nil
}

// syncParallel bounds the fdatasyncs Finish runs at once.
const syncParallel = 16

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync image: %w", err)
	}
	defer f.Close()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("sync image %s: %w", filepath.Base(path), os.NewSyscallError("fdatasync", err))
	}
	return nil
}

// Close implements Store.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir == nil {
		return nil
	}
	err := d.dir.Close()
	d.dir = nil
	return err
}

// directMin is the smallest write that goes around the page cache;
// directAlign the alignment of its offset, length and buffer address.
const (
	directMin   = 1 << 20
	directAlign = 4096
)

type dirWriter struct {
	d      *Dir
	ctx    context.Context // Create's: once it is done, writes and the commit fail
	f      *os.File
	direct *os.File // f's file opened O_DIRECT; nil until a direct write
	// noDirect is set once the file system refused O_DIRECT.
	noDirect bool
	off      int64 // bytes written so far
	reserved int64 // allocated up to here (CreateReserved)
	final    string
	name     string
	done     bool
}

func (w *dirWriter) Write(p []byte) (int, error) {
	if w.ctx.Err() != nil {
		return 0, fmt.Errorf("write image %s: %w", w.name, context.Cause(w.ctx))
	}
	if !w.noDirect && len(p) >= directMin && len(p)%directAlign == 0 &&
		w.off%directAlign == 0 && pageAligned(p) {
		if n, ok, err := w.writeDirect(p); ok {
			return n, err
		}
	}
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	if err != nil {
		err = fmt.Errorf("write image %s: %w", w.name, err)
	}
	return n, err
}

// writeDirect writes p at w.off through the O_DIRECT descriptor. ok is
// false (and nothing was written) when the file system does not take
// direct I/O; the caller then writes through the page cache.
func (w *dirWriter) writeDirect(p []byte) (n int, ok bool, err error) {
	if w.direct == nil {
		f, err := os.OpenFile(w.f.Name(), os.O_WRONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		if err != nil {
			w.noDirect = true
			return 0, false, nil
		}
		w.direct = f
	}
	for n < len(p) {
		m, err := linux.Pwrite(int(w.direct.Fd()), p[n:], w.off)
		if errors.Is(err, unix.EINVAL) && n == 0 {
			w.noDirect = true
			return 0, false, nil
		}
		if err != nil {
			return n, true, fmt.Errorf("write image %s: %w", w.name, err)
		}
		if m == 0 {
			return n, true, fmt.Errorf("write image %s: %w", w.name, io.ErrShortWrite)
		}
		n += m
		w.off += int64(m)
	}
	return n, true, nil
}

// File is the image's open file (FileWriter).
func (w *dirWriter) File() *os.File { return w.f }

// Wrote implements FileWriter.
func (w *dirWriter) Wrote(n int64) { w.off = n }

func (w *dirWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.reserved > w.off {
		// Fewer bytes came than were reserved: the room beyond the end
		// is given back by a truncate down (one to the same size frees
		// nothing on tmpfs, and a hole punched beyond the end nothing
		// on ext4).
		err := w.f.Truncate(w.off + 1)
		if err == nil {
			err = w.f.Truncate(w.off)
		}
		if err != nil {
			w.f.Close()
			os.Remove(w.f.Name())
			return fmt.Errorf("close image %s: %w", w.name, err)
		}
	}
	if w.direct != nil {
		w.direct.Close()
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("close image %s: %w", w.name, err)
	}
	if w.ctx.Err() != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("commit image %s: %w", w.name, context.Cause(w.ctx))
	}
	if err := os.Rename(w.f.Name(), w.final); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("commit image %s: %w", w.name, err)
	}
	w.d.mu.Lock()
	if w.d.written == nil {
		w.d.written = map[string]struct{}{}
	}
	w.d.written[w.name] = struct{}{}
	w.d.mu.Unlock()
	return nil
}

func (w *dirWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.direct != nil {
		w.direct.Close()
	}
	w.f.Close()
	return os.Remove(w.f.Name())
}

// pageAligned reports whether p starts on a directAlign boundary.
func pageAligned(p []byte) bool { return linux.SliceAddr(p)%directAlign == 0 }
