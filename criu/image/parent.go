package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ParentLink is the name, in an images directory, of the symlink to the
// images of the previous (pre-)dump, as CRIU names it. Its target is the
// --prev-images-dir argument, relative to the images directory.
const ParentLink = "parent"

// ErrNoParent says a store has no parent images.
var ErrNoParent = errors.New("no parent images")

// Chained is implemented by stores whose snapshot can build on a parent
// snapshot (pre-dump chains): pages that did not change are left in the
// parent and marked PE_PARENT in the pagemap.
type Chained interface {
	// SetParent records ref as this snapshot's parent. For a directory
	// ref is a path, taken relative to the directory when not absolute.
	SetParent(ctx context.Context, ref string) error
	// Parent opens the parent snapshot for reading, or returns an error
	// for which errors.Is(err, ErrNoParent) holds. The caller closes it.
	Parent(ctx context.Context) (Store, error)
}

// SetParent implements Chained: it (re)creates the parent symlink.
func (d *Dir) SetParent(_ context.Context, ref string) error {
	if ref == "" {
		return fmt.Errorf("set parent: empty path")
	}
	target := ref
	if !filepath.IsAbs(target) {
		target = filepath.Join(d.path, ref)
	}
	if st, err := os.Stat(target); err != nil {
		return fmt.Errorf("parent images %s: %w", ref, err)
	} else if !st.IsDir() {
		return fmt.Errorf("parent images %s: not a directory", ref)
	}
	link := filepath.Join(d.path, ParentLink)
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace parent link: %w", err)
	}
	if err := os.Symlink(ref, link); err != nil {
		return fmt.Errorf("parent link: %w", err)
	}
	return nil
}

// Parent implements Chained: the directory the parent symlink leads to.
func (d *Dir) Parent(context.Context) (Store, error) {
	link := filepath.Join(d.path, ParentLink)
	if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", d.path, ErrNoParent)
	}
	p, err := NewDir(link)
	if err != nil {
		return nil, fmt.Errorf("parent images of %s: %w", d.path, err)
	}
	return p, nil
}
