package pagemap

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// CRIU 4.2 flags private anonymous pages PE_LAZY|PE_PRESENT in every
// dump without --lazy-pages: they are in pages-N.img and restore as
// present pages. PE_LAZY alone is refused.
func TestReadPagemapLazyFlags(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		flags uint32
		ok    bool
	}{
		{image.PePresent, true},
		{image.PeLazy | image.PePresent, true},
		{image.PeParent, true},
		{image.PeLazy, false},
	} {
		d, err := image.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ent := &images.PagemapEntry{Vaddr: proto.Uint64(0x10000), CompatNrPages: proto.Uint32(0), NrPages: proto.Uint64(2), Flags: proto.Uint32(tc.flags)}
		if err := image.WriteImage(ctx, d, "pagemap-7.img", &images.PagemapHead{PagesId: proto.Uint32(1)}, ent); err != nil {
			t.Fatal(err)
		}
		id, ents, err := Read(ctx, d, 7)
		d.Close()
		if !tc.ok {
			if !errors.Is(err, errdefs.ErrUnsupported) {
				t.Errorf("flags %#x: got %v, want unsupported", tc.flags, err)
			}
			continue
		}
		if err != nil || id != 1 || len(ents) != 1 {
			t.Errorf("flags %#x: id %d, %d entries, %v", tc.flags, id, len(ents), err)
			continue
		}
		present, parent := Split(ents)
		if tc.flags&image.PeParent != 0 {
			if len(present) != 0 || len(parent) != 1 {
				t.Errorf("flags %#x: %d present, %d parent ranges", tc.flags, len(present), len(parent))
			}
		} else if len(present) != 1 || len(parent) != 0 {
			t.Errorf("flags %#x: %d present, %d parent ranges", tc.flags, len(present), len(parent))
		}
	}
}
