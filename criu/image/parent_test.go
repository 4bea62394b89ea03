package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDirParent(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for _, n := range []string{"1", "2"} {
		if err := os.Mkdir(filepath.Join(root, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d1, _ := NewDir(filepath.Join(root, "1"))
	defer d1.Close()
	if _, err := d1.Parent(ctx); !errors.Is(err, ErrNoParent) {
		t.Fatalf("Parent without a link: %v, want ErrNoParent", err)
	}
	if err := writeParentTestImage(ctx, d1, "x.img", []byte("one")); err != nil {
		t.Fatal(err)
	}
	d2, _ := NewDir(filepath.Join(root, "2"))
	defer d2.Close()
	if err := d2.SetParent(ctx, "../3"); err == nil {
		t.Fatal("SetParent to a missing dir succeeded")
	}
	if err := d2.SetParent(ctx, "../1"); err != nil {
		t.Fatal(err)
	}
	if err := d2.SetParent(ctx, "../1"); err != nil { // again: replaced
		t.Fatal(err)
	}
	if l, _ := os.Readlink(filepath.Join(root, "2", ParentLink)); l != "../1" {
		t.Errorf("link %q, want ../1 (as given, relative)", l)
	}
	p, err := d2.Parent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, err := p.Open(ctx, "x.img")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	if _, err := r.Read(b); err != nil || string(b) != "one" {
		t.Errorf("read %q, %v", b, err)
	}
	r.Close()
}

// writeParentTestImage writes b as image name (test helper).
func writeParentTestImage(ctx context.Context, s Store, name string, b []byte) error {
	w, err := s.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}
