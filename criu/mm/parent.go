package mm

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/mm/pageio"
	"github.com/criugo/criu/criu/mm/pagemap"
)

// Pages of an incremental dump may live in the parent images
// (package pagemap): restore writes them after this dump's own.

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
	buf := pageio.GetBuf(fillChunk)
	defer pageio.PutBuf(buf)
	return pagemap.FromParents(ctx, r.store, r.img.Pid, want, buf, func(g mem.Range, b []byte) error {
		if err := put(g, b); err != nil {
			return err
		}
		r.stats.PagesRestored += g.Len() / mem.PageSize
		return nil
	})
}
