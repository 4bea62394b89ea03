package dump

import "context"

// sharedSet collects the objects that fds of several tasks (or both ends
// of one object) lead to, to be written once for the whole tree.
type sharedSet struct {
	pipes []*pipeObj
	byIno map[uint64]*pipeObj
}

func newSharedSet() *sharedSet { return &sharedSet{byIno: map[uint64]*pipeObj{}} }

// write writes the shared objects' images.
func (s *sharedSet) write(ctx context.Context, t *tree) error {
	return s.writePipes(ctx, t)
}
