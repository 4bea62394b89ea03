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
type Dir struct {
	path string

	mu  sync.Mutex // protects dir
	dir *os.File   // open directory; nil once closed
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
func (d *Dir) Create(_ context.Context, name string) (Writer, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(d.path, "."+name+".part-*")
	if err != nil {
		return nil, fmt.Errorf("create image %s: %w", name, err)
	}
	return &dirWriter{f: f, final: filepath.Join(d.path, name), name: name}, nil
}

// Open implements Store.
func (d *Dir) Open(_ context.Context, name string) (io.ReadCloser, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d.path, name))
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", name, err)
	}
	return f, nil
}

// Finish implements Store: it flushes the file system holding the images
// to disk.
func (d *Dir) Finish(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dir == nil {
		return os.ErrClosed
	}
	if err := unix.Syncfs(int(d.dir.Fd())); err != nil {
		return fmt.Errorf("sync images directory: %w", os.NewSyscallError("syncfs", err))
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

type dirWriter struct {
	f     *os.File
	final string
	name  string
	done  bool
}

func (w *dirWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("write image %s: %w", w.name, err)
	}
	return n, err
}

func (w *dirWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("close image %s: %w", w.name, err)
	}
	if err := os.Rename(w.f.Name(), w.final); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("commit image %s: %w", w.name, err)
	}
	return nil
}

func (w *dirWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}
