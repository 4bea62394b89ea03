package vdso

import (
	"fmt"
	"strings"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// specialArea is a run of adjacent kernel special mappings of one kind:
// the vdso, or the vvar pages. Kernels since 6.x split the vvar into
// [vvar] and [vvar_vclock]; we record each as a VMA_AREA_VVAR entry,
// CRIU 4.2 records the run as one.
type specialArea struct {
	start, end uint64
	vvar       bool
}

func addArea(as []specialArea, start, end uint64, vvar bool) []specialArea {
	if k := len(as); k > 0 && vvar && as[k-1].vvar && as[k-1].end == start {
		as[k-1].end = end
		return as
	}
	return append(as, specialArea{start: start, end: end, vvar: vvar})
}

// Targets gives, for each of the new task's vdso and vvar
// mappings (in address order), the address it moves to so that the
// areas are where the dumped VMAs say. The areas must match in number,
// kind and size: anything else is another kernel's layout.
func Targets(cur []procfs.Mapping, dumped []*images.VmaEntry) ([]uint64, error) {
	var ca, da []specialArea
	var curArea []int // the area of each current mapping
	for _, m := range cur {
		ca = addArea(ca, m.Start, m.End, strings.HasPrefix(m.Path, "[vvar"))
		curArea = append(curArea, len(ca)-1)
	}
	for _, v := range dumped {
		da = addArea(da, v.GetStart(), v.GetEnd(), v.GetStatus()&image.VmaAreaVvar != 0)
	}
	if len(ca) != len(da) {
		return nil, fmt.Errorf("%w: %d vdso/vvar areas dumped, %d here (another kernel?)", errdefs.ErrUnsupported, len(da), len(ca))
	}
	for i := range ca {
		if ca[i].vvar != da[i].vvar || ca[i].end-ca[i].start != da[i].end-da[i].start {
			return nil, fmt.Errorf("%w: vdso/vvar area %d is %d bytes here, dumped %d (another kernel?)", errdefs.ErrUnsupported, i, ca[i].end-ca[i].start, da[i].end-da[i].start)
		}
	}
	to := make([]uint64, len(cur))
	for i, m := range cur {
		a := curArea[i]
		to[i] = da[a].start + (m.Start - ca[a].start)
	}
	return to, nil
}
