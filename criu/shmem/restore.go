package shmem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
)

// ErrBadImage is a shared memory image that cannot be restored as it is.
var ErrBadImage = errors.New("bad shared memory image")

// Filler puts the bytes of runs into an object: the restorer's mapping
// of it (Mapping) or an fd of it (FdFiller).
type Filler interface {
	// Size is the object's size: no page may go beyond it.
	Size() uint64
	// Fill reads len(r) bytes from rd into the object at offset r.Start.
	Fill(r mem.Range, rd io.Reader) error
}

// Mapping fills an object through the restorer's own shared mapping of
// it, from its offset 0.
type Mapping []byte

func (m Mapping) Size() uint64 { return uint64(len(m)) }

func (m Mapping) Fill(r mem.Range, rd io.Reader) error {
	b := m[r.Start:r.End]
	// Fresh pages cost dearly when faulted one by one.
	if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err != nil {
		return os.NewSyscallError("madvise(MADV_POPULATE_WRITE)", err)
	}
	_, err := io.ReadFull(rd, b)
	return err
}

// FdFiller fills an object through a file descriptor of it, with pwrite.
type FdFiller struct {
	Fd  int
	Len uint64
}

func (f FdFiller) Size() uint64 { return (f.Len + mem.PageSize - 1) &^ (mem.PageSize - 1) }

func (f FdFiller) Fill(r mem.Range, rd io.Reader) error {
	buf := make([]byte, min(chunk, r.Len()))
	for off := r.Start; off < r.End; {
		n := min(uint64(len(buf)), r.End-off)
		if _, err := io.ReadFull(rd, buf[:n]); err != nil {
			return err
		}
		// The tail of the last page beyond the file's size is not data.
		w := buf[:n]
		if off+n > f.Len {
			w = buf[:f.Len-min(off, f.Len)]
		}
		for pos := off; len(w) > 0; {
			k, err := unix.Pwrite(f.Fd, w, int64(pos))
			if err != nil {
				return os.NewSyscallError("pwrite", err)
			}
			w, pos = w[k:], pos+uint64(k)
		}
		off += n
	}
	return nil
}

// Fill puts object id's saved pages into dst. An object without a
// pagemap-shmem image (images of a dump that saved shared memory with
// each task's pages) is left as it is. It returns the pages filled.
func Fill(ctx context.Context, st image.Store, id uint64, dst Filler) (uint64, error) {
	name := PagemapImage(id)
	head, ents, err := image.ReadPagemap(ctx, st, name)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pagesName := fmt.Sprintf("pages-%d.img", head.GetPagesId())
	rd, err := st.Open(ctx, pagesName)
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	var total uint64
	for _, e := range ents {
		n := image.NrPages(e)
		fl := e.GetFlags()
		if e.Flags != nil && fl&image.PePresent == 0 {
			if fl&(image.PeParent|image.PeLazy) != 0 {
				return total, fmt.Errorf("%w: %s: pages at %#x are in a parent or lazy image (flags %#x)", ErrBadImage, name, e.GetVaddr(), fl)
			}
			continue // a hole
		}
		r := mem.Range{Start: e.GetVaddr(), End: e.GetVaddr() + n*mem.PageSize}
		if r.Start%mem.PageSize != 0 || r.End < r.Start || r.End > dst.Size() {
			return total, fmt.Errorf("%w: %s: pages %#x-%#x outside the object (%#x bytes)", ErrBadImage, name, r.Start, r.End, dst.Size())
		}
		if err := dst.Fill(r, rd); err != nil {
			return total, fmt.Errorf("fill %s from %s: %w", name, pagesName, err)
		}
		total += n
	}
	return total, nil
}
