package dump

import "context"

// sharedSet collects the objects that fds of several tasks (or both ends
// of one object) lead to, to be written once for the whole tree.
type sharedSet struct {
	pipes []*pipeObj
	byIno map[uint64]*pipeObj
	// fifos are the named pipes open in the tree, by (dev, ino) in
	// fifoByKey (fifo.go).
	fifos     []*pipeObj
	fifoByKey map[[2]uint64]*pipeObj
}

func newSharedSet() *sharedSet {
	return &sharedSet{byIno: map[uint64]*pipeObj{}, fifoByKey: map[[2]uint64]*pipeObj{}}
}

// write checks that the shared objects can be restored and writes their
// images.
func (s *sharedSet) write(ctx context.Context, t *tree) error {
	if err := t.sockets.Check(); err != nil {
		return err
	}
	if err := s.writePipes(ctx, t); err != nil {
		return err
	}
	if err := writePipeData(ctx, t, "fifo-data.img", s.fifos); err != nil {
		return err
	}
	return t.sockets.Write(ctx, t.store)
}
