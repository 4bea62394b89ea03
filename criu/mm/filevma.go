package mm

import (
	"fmt"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// fileVma records mapping m of a file, or of a memfd with memfd (as CRIU
// 4.2, a shared anonymous one on huge pages is one), and returns the
// VMA's status bits; a private one has its own pages saved too.
func (d *TaskDump) fileVma(m procfs.Mapping, e *images.VmaEntry, a *area, memfd bool) (uint32, error) {
	oflags := uint32(unix.O_RDONLY)
	if m.Shared && m.HasFlag("mw") {
		oflags = unix.O_RDWR
	}
	link := procfs.Path(d.pid, fmt.Sprintf("map_files/%x-%x", m.Start, m.End))
	var id, st uint32
	var err error
	if memfd {
		id, err = d.task.MapMemfd(link, m.Path, oflags)
		st = image.VmaAreaMemfd
	} else {
		id, err = d.task.MapFile(m.FilePath(), link, oflags)
	}
	if err != nil {
		return 0, &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
	}
	e.Shmid = proto.Uint64(uint64(id))
	e.Fdflags = proto.Uint32(oflags)
	if m.Shared {
		return st | image.VmaFileShared, nil
	}
	a.pages = mem.PrivatePage
	return st | image.VmaFilePrivate, nil
}
