package dump

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mm"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/proto/images"
)

// PreDump saves the memory of the tree rooted at opts.Pid into s while
// the tree goes on running, so that a later Dump with
// PrevImages pointing here has fewer pages to write while the tree is
// frozen. The tree is frozen only to list its memory and (TrackMem) to
// write-protect it for tracking (package mm); the pages are read and
// written after it runs again. A page that changes while it is being
// read is seen as written by the next dump, which takes it again.
//
// The images are a pagemap and pages per task, inventory, stats-dump and,
// with TrackMem, mm.TrackImage. They are not restorable by themselves.
func PreDump(ctx context.Context, s image.Store, opts Options) (*Stats, error) {
	log := opts.Log
	t, err := freezeTree(ctx, s, opts, freezeSpec{
		verb:     "pre-dump",
		shellJob: false, // no fds are dumped
		protect:  true,  // the tree runs on, and so does tracking
	})
	if err != nil {
		return nil, err
	}
	defer t.release()
	type plan struct {
		d     *dumper
		pages *mm.Pages
	}
	var plans []plan
	for _, d := range t.tasks {
		if d.zombie {
			continue
		}
		if err := interrupted(ctx); err != nil {
			return nil, err
		}
		maps, err := procfs.ReadSmaps(d.pid)
		if err != nil {
			return nil, fmt.Errorf("read smaps of %d: %w", d.pid, err)
		}
		if d.sysIP, err = ptrace.FindSyscall(d.pid, maps); err != nil {
			return nil, err
		}
		areas, err := d.collectVmas(maps)
		if err != nil {
			return nil, fmt.Errorf("pre-dump %d: %w", d.pid, err)
		}
		pages, err := d.mm.PlanPages(areas)
		if err != nil {
			return nil, fmt.Errorf("pre-dump %d: %w", d.pid, err)
		}
		plans = append(plans, plan{d, pages})
	}
	// The tree runs again; what it writes from now on is tracked.
	t.keepThawed()
	if err := t.thaw(); err != nil {
		return nil, fmt.Errorf("resume %d: %w", opts.Pid, err)
	}
	t.stats.Frozen = time.Since(t.frozenAt)
	log.Info().Int("pid", opts.Pid).Int("tasks", len(t.tasks)).Dur("frozen", t.stats.Frozen).Msg("tree resumed")

	for _, p := range plans {
		if err := interrupted(ctx); err != nil {
			return nil, err
		}
		if err := p.d.mm.WritePages(ctx, p.pages, true); err != nil {
			return nil, fmt.Errorf("pre-dump memory of %d: %w", p.d.pid, err)
		}
		t.addStats(p.d)
	}
	inv := &images.InventoryEntry{
		ImgVersion: proto.Uint32(2), FdinfoPerId: proto.Bool(true), RootIds: t.tasks[0].ids,
		NsPerId: proto.Bool(true), Lsmtype: images.Lsmtype_NO_LSM.Enum(),
		DumpCriuRunId: proto.String(uuid.NewString()),
	}
	if err := image.WriteImage(ctx, s, "inventory.img", inv); err != nil {
		return nil, err
	}
	if err := t.finishImages(ctx, true); err != nil {
		return nil, err
	}
	log.Info().Int("pid", opts.Pid).Dur("frozen", t.stats.Frozen).Uint64("pages", t.stats.PagesWritten).
		Uint64("parent", t.stats.PagesSkippedParent).Msg("pre-dump done")
	return &t.stats, nil
}
