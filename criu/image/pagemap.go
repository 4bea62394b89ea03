package image

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/criugo/criu/proto/images"
)

// Pagemap entry flags (CRIU's PE_* in images/pagemap.proto).
const (
	PeParent  = 1 << 0 // the pages are in the parent images
	PeLazy    = 1 << 1 // the pages come later (lazy pages)
	PePresent = 1 << 2 // the pages follow in the pages image
	// PeCow is criugo's: the present pages were, at dump, the very
	// pages (same PFN) that the task's parent mapped at the same
	// address, shared copy-on-write since a fork. Restore may leave
	// them inherited from the restored parent instead of writing them.
	// CRIU tests only the bits above and restores these pages as any.
	PeCow = 1 << 3
)

// NrPages is a pagemap entry's page count: nr_pages, or compat_nr_pages
// in older images.
func NrPages(e *images.PagemapEntry) uint64 {
	if e.NrPages != nil {
		return e.GetNrPages()
	}
	return uint64(e.GetCompatNrPages())
}

// ReadPagemap reads pagemap image name of s: its head (which names the
// pages image) and its entries.
func ReadPagemap(ctx context.Context, s Store, name string) (*images.PagemapHead, []*images.PagemapEntry, error) {
	r, err := s.Open(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	dec, err := NewDecoder(bufio.NewReaderSize(r, 64<<10), name)
	if err != nil {
		return nil, nil, err
	}
	head := &images.PagemapHead{}
	if err := dec.Decode(head); err != nil {
		if err == io.EOF {
			return nil, nil, dec.fail(fmt.Errorf("%w: no pagemap head", ErrShortEntry))
		}
		return nil, nil, err
	}
	var ents []*images.PagemapEntry
	for {
		e := &images.PagemapEntry{}
		err := dec.Decode(e)
		if err == io.EOF {
			return head, ents, nil
		}
		if err != nil {
			return nil, nil, err
		}
		ents = append(ents, e)
	}
}
