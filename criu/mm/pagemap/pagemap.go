package pagemap

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/proto/images"
)

// MaxChain bounds how many parents FromParents follows.
const MaxChain = 256

// InParent says an entry's pages are in the parent images.
func InParent(e *images.PagemapEntry) bool {
	return e.GetInParent() || e.GetFlags()&image.PeParent != 0
}

// Split separates the entries whose pages are in this dump's
// pages-N.img from the ranges left in the parent (merged).
func Split(ents []*images.PagemapEntry) (present []*images.PagemapEntry, parent []mem.Range) {
	for _, e := range ents {
		if InParent(e) {
			parent = append(parent, Range(e))
		} else {
			present = append(present, e)
		}
	}
	return present, mem.Merge(parent)
}

// Range is the addresses of an entry's pages.
func Range(e *images.PagemapEntry) mem.Range {
	return mem.Range{Start: e.GetVaddr(), End: e.GetVaddr() + image.NrPages(e)*mem.PageSize}
}

// Read reads pagemap-PID.img of s: the pages id and the entries.
// CRIU flags every private anonymous range it could have served lazily
// PE_LAZY; without --lazy-pages it also writes them to pages-N.img and
// flags them PE_PRESENT too, so such entries are plain present pages.
// PE_LAZY alone (pages left on the dumping host for a lazy-pages
// daemon) is not supported.
func Read(ctx context.Context, s image.Store, pid uint32) (uint32, []*images.PagemapEntry, error) {
	name := fmt.Sprintf("pagemap-%d.img", pid)
	head, ents, err := image.ReadPagemap(ctx, s, name)
	if err != nil {
		return 0, nil, err
	}
	for _, e := range ents {
		if e.GetFlags()&(image.PeLazy|image.PePresent) == image.PeLazy {
			return 0, nil, fmt.Errorf("%w: lazy pages in %s", errdefs.ErrUnsupported, name)
		}
	}
	return head.GetPagesId(), ents, nil
}

// FromParents finds the pages of want (sorted, disjoint) of task pid in
// the parent chain of s and hands each run to put, with its bytes in
// buf (at most len(buf) bytes a call; buf is page-aligned, its length a
// multiple of the page size). It fails when a page is in no parent.
func FromParents(ctx context.Context, s image.Store, pid uint32, want []mem.Range, buf []byte, put func(mem.Range, []byte) error) error {
	chunk := uint64(len(buf))
	store := s
	var opened []image.Store
	defer func() {
		for _, s := range opened {
			s.Close()
		}
	}()
	for depth := 1; len(want) > 0; depth++ {
		if depth > MaxChain {
			return fmt.Errorf("%w: parent chain longer than %d", errdefs.ErrBadImage, MaxChain)
		}
		c, ok := store.(image.Chained)
		if !ok {
			return fmt.Errorf("%w: pages in a parent snapshot, and these images cannot reach one", errdefs.ErrUnsupported)
		}
		p, err := c.Parent(ctx)
		if err != nil {
			if errors.Is(err, image.ErrNoParent) {
				return fmt.Errorf("%w: pagemap-%d.img leaves pages in a parent, and there is none: %v", errdefs.ErrBadImage, pid, err)
			}
			return err
		}
		opened = append(opened, p)
		store = p
		pagesID, ents, err := Read(ctx, p, pid)
		if err != nil {
			return fmt.Errorf("parent %d: %w", depth, err)
		}
		name := fmt.Sprintf("pages-%d.img", pagesID)
		rd, err := p.Open(ctx, name)
		if err != nil {
			return fmt.Errorf("parent %d: %w", depth, err)
		}
		var covered, next []mem.Range
		pos := uint64(0) // read offset in pages-N.img
		off := uint64(0) // offset of the current entry
		err = func() error {
			defer rd.Close()
			for _, e := range ents {
				er := Range(e)
				got := mem.Intersect(want, []mem.Range{er})
				covered = append(covered, got...)
				if InParent(e) {
					next = append(next, got...)
					continue
				}
				for _, g := range got {
					at := off + (g.Start - er.Start)
					// Skip what is not wanted, in big aligned reads
					// (the store may read those around the page cache).
					for pos < at {
						n := min(at-pos, chunk)
						if _, err := io.ReadFull(rd, buf[:n]); err != nil {
							return fmt.Errorf("%w: parent %d %s: %v", errdefs.ErrBadImage, depth, name, err)
						}
						pos += n
					}
					for s := g.Start; s < g.End; {
						n := min(g.End-s, chunk)
						b := buf[:n]
						if _, err := io.ReadFull(rd, b); err != nil {
							return fmt.Errorf("%w: parent %d %s: %v", errdefs.ErrBadImage, depth, name, err)
						}
						pos += n
						if err := put(mem.Range{Start: s, End: s + n}, b); err != nil {
							return err
						}
						s += n
					}
				}
				off += er.Len()
			}
			return nil
		}()
		if err != nil {
			return err
		}
		if miss := mem.Subtract(want, mem.Merge(covered)); len(miss) > 0 {
			return fmt.Errorf("%w: parent %d has no pages at %#x-%#x", errdefs.ErrBadImage, depth, miss[0].Start, miss[0].End)
		}
		want = mem.Merge(next)
	}
	return nil
}
