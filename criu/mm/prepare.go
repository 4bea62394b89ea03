package mm

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
)

// Prepare readies, before the tree is frozen, the root task's pages
// image (pages-1.img): a local image file gets room for the task's
// anonymous memory as it is now (RssAnon and VmSwap of its status)
// allocated (image.ReservingStore), so that the frozen task's pages are only
// copied into it. The task's memory changes until it is frozen: room
// left over is given back when the image is committed, and pages beyond
// it are written as any. Nothing is prepared for a store that is not
// local; a failure only leaves the image to be made while frozen.
func (t *Tree) Prepare(ctx context.Context, pid int) {
	b, err := os.ReadFile(procfs.Path(pid, "status"))
	if err != nil {
		return
	}
	var n int64
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		if k == "RssAnon" || k == "VmSwap" {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			n += kb << 10
		}
	}
	if n < prepareMin {
		return
	}
	rs, ok := t.store.(image.ReservingStore)
	if !ok {
		return
	}
	w, err := rs.CreateReserved(ctx, "pages-1.img", n)
	if err != nil {
		return
	}
	t.prepared = w
}

// prepareMin is the least anonymous memory that Prepare reserves room
// for: below it, allocating while frozen costs little.
const prepareMin = 16 << 20

// pagesWriter starts pages-ID.img: the writer Prepare made for it, or
// a new one.
func (t *Tree) pagesWriter(ctx context.Context, id uint32) (image.Writer, error) {
	if id == 1 && t.prepared != nil {
		w := t.prepared
		t.prepared = nil
		return w, nil
	}
	return t.store.Create(ctx, fmt.Sprintf("pages-%d.img", id))
}
