package seccomp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// Write writes t as seccomp.img (one entry, empty when no thread has
// filters, as CRIU writes it).
func (t *Table) Write(ctx context.Context, s image.Store) error {
	return image.WriteImage(ctx, s, ImageName, t.Entry())
}

// Read reads seccomp.img. A missing image (older dumps) and an image
// without entry both mean no filters; more than one entry is an error.
func Read(ctx context.Context, s image.Store) (*images.SeccompEntry, error) {
	ms, err := image.ReadAll(ctx, s, ImageName, func() proto.Message { return &images.SeccompEntry{} })
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &images.SeccompEntry{}, nil
	case err != nil:
		return nil, err
	case len(ms) == 0:
		return &images.SeccompEntry{}, nil
	case len(ms) > 1:
		return nil, fmt.Errorf("%w: %s has %d entries", ErrBadImage, ImageName, len(ms))
	}
	return ms[0].(*images.SeccompEntry), nil
}
