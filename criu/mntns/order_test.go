package mntns

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// The mounts of an image, parents first: ours (mountinfo's order) stay
// as they are; CRIU 4.2's (the root last) are put in order, an
// overmount after what it covers.
func TestOrderMounts(t *testing.T) {
	m := func(id, parent uint32, point string) *images.MntEntry {
		return &images.MntEntry{MntId: proto.Uint32(id), ParentMntId: proto.Uint32(parent), Mountpoint: proto.String(point)}
	}
	points := func(ms []*images.MntEntry) (s string) {
		for _, e := range ms {
			s += e.GetMountpoint() + " "
		}
		return s
	}
	ours := []*images.MntEntry{m(10, 1, "/"), m(14, 10, "/usr"), m(12, 10, "/tmp"), m(15, 12, "/tmp/a")}
	if got, err := orderMounts(ours); err != nil || points(got) != "/ /usr /tmp /tmp/a " {
		t.Errorf("ours: %q %v", points(got), err)
	}
	criu := []*images.MntEntry{m(15, 12, "/tmp/a"), m(16, 10, "/tmp"), m(12, 10, "/tmp"), m(14, 10, "/usr"), m(10, 1, "/")}
	if got, err := orderMounts(criu); err != nil || points(got) != "/ /tmp /usr /tmp /tmp/a " || got[1].GetMntId() != 12 {
		t.Errorf("CRIU's: %q %v", points(got), err)
	}
	if _, err := orderMounts([]*images.MntEntry{m(10, 1, "/"), m(11, 2, "/x")}); err == nil {
		t.Error("two root mounts: no error")
	}
}
