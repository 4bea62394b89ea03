package vdso

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

func vma(start, end uint64, status uint32) *images.VmaEntry {
	return &images.VmaEntry{Start: proto.Uint64(start), End: proto.Uint64(end), Status: proto.Uint32(status)}
}

// A kernel with [vvar] and [vvar_vclock]: our images record both, CRIU
// 4.2's one VVAR area over both; each moves the mappings the same way.
func TestSpecialTargets(t *testing.T) {
	cur := []procfs.Mapping{
		{Start: 0x1000000, End: 0x1004000, Path: "[vvar]"},
		{Start: 0x1004000, End: 0x1006000, Path: "[vvar_vclock]"},
		{Start: 0x1006000, End: 0x1008000, Path: "[vdso]"},
	}
	want := []uint64{0x7000000, 0x7004000, 0x7006000}
	ours := []*images.VmaEntry{
		vma(0x7000000, 0x7004000, image.VmaAreaVvar),
		vma(0x7004000, 0x7006000, image.VmaAreaVvar),
		vma(0x7006000, 0x7008000, image.VmaAreaVdso),
	}
	criu42 := []*images.VmaEntry{
		vma(0x7000000, 0x7006000, image.VmaAreaVvar),
		vma(0x7006000, 0x7008000, image.VmaAreaVdso),
	}
	for name, d := range map[string][]*images.VmaEntry{"ours": ours, "criu": criu42} {
		got, err := Targets(cur, d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: mapping %d to %#x, want %#x", name, i, got[i], want[i])
			}
		}
	}
	// Another kernel's sizes are refused.
	other := []*images.VmaEntry{vma(0x7000000, 0x7004000, image.VmaAreaVvar), vma(0x7006000, 0x7008000, image.VmaAreaVdso)}
	if _, err := Targets(cur, other); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("vvar of 4 pages restored on 6: %v", err)
	}
}
