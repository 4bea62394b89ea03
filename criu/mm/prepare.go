package mm

import (
	"context"
	"fmt"
	"time"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mm/pageio"
	"github.com/criugo/criu/criu/procfs"
)

// Prepare readies, before the tree is frozen, the root task's pages
// image (pages-1.img): a local image file gets room for the task's
// anonymous memory as it is now (RssAnon and VmSwap of its status, and
// a little more) allocated (image.ReservingStore) and, in memory
// (tmpfs), mapped and populated (pageio.MapForWrite), so that the frozen
// task's pages are only copied into it, on every core (writeMapped).
// The task's memory changes until it is frozen: room left over is given
// back when the image is committed, and pages beyond it are written as
// any. Nothing is prepared for a store that is not local; a failure
// only leaves the image to be made while frozen.
func (t *Tree) Prepare(ctx context.Context, pid int) {
	st, err := procfs.ReadStatus(pid)
	if err != nil {
		return
	}
	anon, _ := st.Bytes("RssAnon")
	swap, _ := st.Bytes("VmSwap") // absent without swap support
	n := int64(anon + swap)
	if n < prepareMin {
		return
	}
	// Room for the pages saved beside the anonymous ones (the vdso's),
	// and for a little growth.
	n += (n/256 + 1<<20) &^ (4096 - 1)
	rs, ok := t.store.(image.ReservingStore)
	if !ok {
		return
	}
	w, err := rs.CreateReserved(ctx, "pages-1.img", n)
	if err != nil {
		return
	}
	t.prepared = w
	if fw, ok := w.(image.FileWriter); ok && pageio.InMemory(fw.File()) {
		// Mapped and populated too: the frozen task's pages are then
		// copied straight into the page cache, on every core.
		t.preparedImg, _ = pageio.MapForWrite(fw.File(), n)
	}
}

// writeMapped writes d's runs into the image Prepare mapped, when w is
// that image and the runs fit (done: the image is committed, or err).
func (t *Tree) writeMapped(d *TaskDump, w image.Writer, runs []pageRun, lenient bool) (done bool, err error) {
	img := t.preparedImg
	fw, ok := w.(image.FileWriter)
	if img == nil || !ok || lenient || d.pagesID != 1 {
		return false, nil
	}
	t.preparedImg = nil
	total := pageio.Size(runs)
	if total > img.Len() {
		img.Close() // more than the room: written as any, over it
		return false, nil
	}
	t0 := time.Now()
	err = img.DumpInto(d.pid, runs)
	if cerr := img.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.Abort()
		return true, err
	}
	fw.Wrote(int64(total))
	t1 := time.Now()
	if err := w.Close(); err != nil {
		return true, fmt.Errorf("commit pages-1.img: %w", err)
	}
	d.Stats.MemDump, d.Stats.MemWrite = t1.Sub(t0), time.Since(t1)
	d.written.Store(&runs)
	return true, nil
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
