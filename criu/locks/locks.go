package locks

import (
	"context"
	"errors"
	"io/fs"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// Image is the image of the tree's file locks.
const Image = "filelocks.img"

// File lock kinds and types of file_lock_entry (CRIU's file-lock.h).
const (
	flPOSIX = 1
	flFlock = 2
	flOFD   = 4 // fcntl(F_OFD_SETLK): owned by the open file description
	flLease = 8 // fcntl(F_SETLEASE)
	fRdlck  = 0
	fWrlck  = 1
	// leaseBreaking is or'ed into the type of a lease being broken.
	leaseBreaking = 4
)

// Set is the file locks held by the tree being dumped, for filelocks.img.
type Set struct {
	entries []*images.FileLockEntry
	// seen keys a lock already recorded through another fd: a flock
	// by open file description, a POSIX lock by owner and range.
	seen map[string]bool
}

// Write writes filelocks.img when the tree holds locks.
func (s *Set) Write(ctx context.Context, st image.Store) error {
	if len(s.entries) == 0 {
		return nil
	}
	ms := make([]proto.Message, len(s.entries))
	for i, e := range s.entries {
		ms[i] = e
	}
	return image.WriteImage(ctx, st, Image, ms...)
}

// Read reads filelocks.img, which exists only when the tree held file
// locks.
func Read(ctx context.Context, s image.Store) ([]*images.FileLockEntry, error) {
	ms, err := image.ReadAll(ctx, s, Image, func() proto.Message { return &images.FileLockEntry{} })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]*images.FileLockEntry, len(ms))
	for i, m := range ms {
		out[i] = m.(*images.FileLockEntry)
	}
	return out, nil
}
