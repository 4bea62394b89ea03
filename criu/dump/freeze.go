package dump

import (
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/freeze"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/ptrace"
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

// warm builds, once, what the first use of would build inside the
// frozen time: the protobuf coders of everyDump (about 2.5 ms in a fresh
// process here) and the CPU's xstate layout (ptrace.WarmXstate).
// Concurrent callers wait for the one that does it.
var warm = sync.OnceFunc(func() {
	image.Warm(everyDump...)
	ptrace.WarmXstate()
})

// Warm does warm's work ahead: criu's dump and pre-dump commands call it
// in a goroutine as they start, so that it runs while they read their
// options and open the images, on the other core. A dump waits for it
// before it freezes the tree.
func Warm() { warm() }
