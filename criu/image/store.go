package image

import (
	"context"
	"io"
	"os"
)

// Store is where the images of one snapshot live: a local images directory
// (Dir) or a remote image cache reached through the local image daemon
// (remote.Store, in criu/image/remote). Dump and restore only ever see
// this interface.
//
// Image names are plain file names such as "core-42.img" or "pages-1.img";
// they never contain a slash.
type Store interface {
	// Create starts writing image name, replacing any earlier image of
	// that name. The image is complete (visible to readers as a whole
	// image) only once the writer's Close has returned nil; Abort, or a
	// failed Close, leaves no image of that name behind. ctx bounds the
	// whole write: once it is done, the writer's Write and Close fail
	// (with context.Cause) and no image is committed.
	Create(ctx context.Context, name string) (Writer, error)

	// Open opens image name for reading; ctx bounds the whole read. An
	// image that does not exist
	// gives an error for which errors.Is(err, fs.ErrNotExist) holds. A
	// reader of an image that is still arriving (remote) gets its bytes
	// as they come; a reader never sees a truncated image as complete:
	// it gets an error instead of io.EOF.
	Open(ctx context.Context, name string) (io.ReadCloser, error)

	// Finish declares the snapshot complete after every image has been
	// written. When it returns nil, every image is durable (local: synced
	// to disk; remote: acknowledged by the image cache). A dump may only
	// kill its tasks after Finish has returned nil.
	Finish(ctx context.Context) error

	// Close releases the store's resources. It is safe to call twice.
	Close() error
}

// Writer writes one image.
type Writer interface {
	io.Writer
	// Close commits the image. It returns nil only when the image is
	// stored whole.
	Close() error
	// Abort discards the image. Safe after Close (then it does nothing).
	Abort() error
}

// ReservingStore is implemented by stores of local files (Dir):
// CreateReserved is Create with the file's room for its first n bytes
// allocated at once (fallocate(2)), so that writing them later only
// copies. Fewer bytes may come; the image then holds only those. A
// wrapper over a store without it returns errors.ErrUnsupported.
type ReservingStore interface {
	CreateReserved(ctx context.Context, name string, n int64) (Writer, error)
}

// FileWriter is implemented by writers of images that are local files
// (Dir's): File is the image's open file (read-write), which a writer
// of a big image may map and fill in place; Wrote then says that the
// image's first n bytes were written so (its next writes follow them).
type FileWriter interface {
	File() *os.File
	Wrote(n int64)
}

// FileReader is implemented by the readers of images that are local
// files (Dir's): File is the image's open file, which a reader may map
// instead of reading it (the page copies of package pageio: the bytes go
// from the page cache into the task, with no read in between). Whoever
// uses the file does not read through the reader too; closing the
// reader closes it.
type FileReader interface {
	io.ReadCloser
	File() *os.File
}

// Releaser is implemented by stores that hold a snapshot for a reader
// (the remote image cache): Release says the restore is done with it, so
// the cache may free the snapshot.
type Releaser interface {
	Release(ctx context.Context) error
}

// LateFinisher is implemented by stores whose Finish seals the snapshot
// (the remote image cache serves it from the confirmation on, so no
// image can follow): FinishWith finishes like Finish, and once the
// snapshot is held durably, calls last for the bytes of image name
// (stats-dump), which are stored with the confirmation, atomically.
// A dump's stats written there cover the final acknowledgement.
type LateFinisher interface {
	FinishWith(ctx context.Context, name string, last func() ([]byte, error)) error
}
