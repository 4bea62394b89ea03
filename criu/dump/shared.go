package dump

import "context"

// sharedSet collects the objects that fds of several tasks (or both ends
// of one object) lead to, to be written once for the whole tree.
type sharedSet struct {
	// unixDiag is every UNIX socket of the netns, read at the first one
	// met; unixSks are those of the tree, by inode in unixByIno.
	unixDiag  map[uint32]*unixDiag
	unixSks   []*unixSk
	unixByIno map[uint32]*unixSk
	// unixExt are the external peers written (--ext-unix-sk), by inode.
	unixExt map[uint32]bool
	// inetShut is how each inet socket is shut down, by inode, per
	// (family, protocol), read at the first one met.
	inetShut map[[2]int]map[uint32]uint8
}

func newSharedSet() *sharedSet {
	return &sharedSet{}
}

// write checks that the shared objects can be restored and writes their
// images.
func (s *sharedSet) write(ctx context.Context, t *tree) error {
	if err := s.checkUnix(t); err != nil {
		return err
	}
	if err := t.pipes.Write(ctx, t.store, t.opts.Log); err != nil {
		return err
	}
	return s.writeSkQueues(ctx, t)
}
