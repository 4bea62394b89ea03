package ipcns

import (
	"bufio"
	"fmt"
	"io"
	"strconv"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

const pageSize = 4096

// readPagemapContents fills b, a segment of size bytes, from CRIU's
// images of System V shared memory id kept in pagemaps (IpcShmEntry
// InPagemaps, which current CRIU writes): pagemap-shmem-ID.img is a
// PagemapHead naming pages-N.img, then entries whose vaddr is an offset
// in the segment; the pages of the entries flagged PE_PRESENT follow
// one another in pages-N.img. Pages of no entry are holes (zero).
func (r *restorer) readPagemapContents(b []byte, size uint64, id uint32) error {
	name := "pagemap-shmem-" + strconv.FormatUint(uint64(id), 10) + ".img"
	dec, done, err := r.open(name)
	if err != nil {
		return err
	}
	defer done()
	head := &images.PagemapHead{}
	if err := dec.Decode(head); err != nil {
		if err == io.EOF {
			return fmt.Errorf("%w: %s has no head", ErrBadImage, name)
		}
		return err
	}
	pagesName := "pages-" + strconv.FormatUint(uint64(head.GetPagesId()), 10) + ".img"
	pr, err := r.store.Open(r.ctx, pagesName)
	if err != nil {
		return err
	}
	defer pr.Close()
	pages := bufio.NewReaderSize(pr, 256<<10)
	limit := (size + pageSize - 1) &^ (pageSize - 1)
	for {
		e := &images.PagemapEntry{}
		if err := dec.Decode(e); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		n := image.NrPages(e)
		switch {
		case e.GetFlags()&(image.PeParent|image.PeLazy) != 0:
			return fmt.Errorf("%w: %s: pages at %#x are in a parent image or lazy", ErrBadImage, name, e.GetVaddr())
		case e.GetFlags()&image.PePresent == 0 || n == 0:
			continue
		case e.GetVaddr()%pageSize != 0 || n > limit/pageSize || e.GetVaddr() > limit-n*pageSize:
			return fmt.Errorf("%w: %s: %d pages at %#x outside the %d-byte segment", ErrBadImage, name, n, e.GetVaddr(), size)
		}
		// The segment's last page runs past size: those bytes are read
		// and dropped.
		start, end := e.GetVaddr(), e.GetVaddr()+n*pageSize
		if _, err := io.ReadFull(pages, b[start:min(end, size)]); err != nil {
			return fmt.Errorf("%s: %w", pagesName, err)
		}
		if end > size {
			if _, err := io.CopyN(io.Discard, pages, int64(end-max(start, size))); err != nil {
				return fmt.Errorf("%s: %w", pagesName, err)
			}
		}
	}
}
