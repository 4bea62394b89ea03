package dump

import (
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/freeze"
	"github.com/criugo/criu/proto/images"
)

// thread is one frozen thread (package freeze).
type thread = freeze.Thread

// everyDump are the messages of the images every dump writes, whose
// protobuf coders are built before the tree is frozen (image.Warm):
// about 1 ms of a small process's frozen time otherwise.
var everyDump = []proto.Message{
	&images.InventoryEntry{}, &images.PstreeEntry{}, &images.CoreEntry{}, &images.TaskKobjIdsEntry{},
	&images.MmEntry{}, &images.FsEntry{}, &images.FdinfoEntry{}, &images.FileEntry{}, &images.PagemapHead{},
	&images.PagemapEntry{}, &images.StatsEntry{}, &images.SeccompEntry{}, &images.TimensEntry{},
}
