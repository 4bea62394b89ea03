package mm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/pageio"
	"github.com/criugo/criu/proto/images"
)

// Pages of an incremental dump may live in the parent images: a pagemap
// entry flagged PE_PARENT (or the old in_parent field) says so, and the
// parent is found as CRIU finds it, through the images' parent link
// (image.Chained: the `parent` symlink of an images directory). There
// the page is either present, at its place in that dump's pages-N.img,
// or PE_PARENT again, one level further up.

// maxChain bounds how many parents restore follows.
const maxChain = 256

// inParent says an entry's pages are in the parent images.
func inParent(e *images.PagemapEntry) bool {
	return e.GetInParent() || e.GetFlags()&image.PeParent != 0
}

// splitPagemap separates the entries whose pages are in this dump's
// pages-N.img from the ranges left in the parent.
func splitPagemap(ents []*images.PagemapEntry) (present []*images.PagemapEntry, parent []mem.Range) {
	for _, e := range ents {
		if inParent(e) {
			parent = append(parent, entryRange(e))
		} else {
			present = append(present, e)
		}
	}
	return present, mem.Merge(parent)
}

func entryRange(e *images.PagemapEntry) mem.Range {
	return mem.Range{Start: e.GetVaddr(), End: e.GetVaddr() + image.NrPages(e)*mem.PageSize}
}

// ReadPagemap reads pagemap-PID.img of s: the pages id and the entries.
// CRIU flags every private anonymous range it could have served lazily
// PE_LAZY; without --lazy-pages it also writes them to pages-N.img and
// flags them PE_PRESENT too, so such entries are plain present pages.
// PE_LAZY alone (pages left on the dumping host for a lazy-pages
// daemon) is not supported.
func ReadPagemap(ctx context.Context, s image.Store, pid uint32) (uint32, []*images.PagemapEntry, error) {
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

// fillFromParent writes the pages of want (sorted, disjoint) into the
// task from the parent chain of r.store. The mappings are in place.
func (r *restorer) fillFromParent(ctx context.Context, maps []*vmap, want []mem.Range) error {
	if len(want) == 0 {
		return nil
	}
	find := func(addr uint64) *vmap {
		i := sort.Search(len(maps), func(i int) bool { return maps[i].e.GetEnd() > addr })
		if i < len(maps) && maps[i].e.GetStart() <= addr {
			return maps[i]
		}
		return nil
	}
	// Split at mapping boundaries and populate in bulk, as fillPages.
	var split []mem.Range
	for _, w := range want {
		for s := w.Start; s < w.End; {
			vm := find(s)
			if vm == nil {
				return fmt.Errorf("%w: parent pages at %#x outside every mapping", errdefs.ErrBadImage, s)
			}
			e := min(w.End, vm.e.GetEnd())
			split = append(split, mem.Range{Start: s, End: e})
			if !vm.viaForce {
				if _, err := r.sys("madvise(POPULATE_WRITE)", unix.SYS_MADVISE, s, e-s, unix.MADV_POPULATE_WRITE); err != nil {
					return err
				}
			}
			s = e
		}
	}
	want = split
	var mf *mem.File
	defer func() {
		if mf != nil {
			mf.Close()
		}
	}()
	put := func(g mem.Range, b []byte) error {
		if find(g.Start).viaForce {
			if mf == nil {
				var err error
				if mf, err = mem.OpenFile(r.pid); err != nil {
					return err
				}
			}
			return mf.WriteAt(b, g.Start)
		}
		return mem.WriteRemote(r.pid, []mem.Range{g}, b)
	}
	pid := r.img.Pid
	store := r.store
	var opened []image.Store
	defer func() {
		for _, s := range opened {
			s.Close()
		}
	}()
	buf := pageio.GetBuf(fillChunk)
	defer pageio.PutBuf(buf)
	for depth := 1; len(want) > 0; depth++ {
		if depth > maxChain {
			return fmt.Errorf("%w: parent chain longer than %d", errdefs.ErrBadImage, maxChain)
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
		pagesID, ents, err := ReadPagemap(ctx, p, pid)
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
				er := entryRange(e)
				got := mem.Intersect(want, []mem.Range{er})
				covered = append(covered, got...)
				if inParent(e) {
					next = append(next, got...)
					continue
				}
				for _, g := range got {
					at := off + (g.Start - er.Start)
					// Skip what is not wanted, in big aligned reads
					// (the store may read those around the page cache).
					for pos < at {
						n := min(at-pos, fillChunk)
						if _, err := io.ReadFull(rd, buf[:n]); err != nil {
							return fmt.Errorf("%w: parent %d %s: %v", errdefs.ErrBadImage, depth, name, err)
						}
						pos += n
					}
					for s := g.Start; s < g.End; {
						n := min(g.End-s, fillChunk)
						b := buf[:n]
						if _, err := io.ReadFull(rd, b); err != nil {
							return fmt.Errorf("%w: parent %d %s: %v", errdefs.ErrBadImage, depth, name, err)
						}
						pos += n
						if err := put(mem.Range{Start: s, End: s + n}, b); err != nil {
							return err
						}
						r.stats.PagesRestored += n / mem.PageSize
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
