package dump

import "context"

// writeObjects checks that the objects the fds of several tasks (or both
// ends of one object) lead to can be restored, and writes their images,
// once for the whole tree: sockets (package sockets), pipes and fifos
// (package pipes).
func (t *tree) writeObjects(ctx context.Context) error {
	if err := t.sockets.Check(); err != nil {
		return err
	}
	if err := t.pipes.Write(ctx, t.store, t.opts.Log); err != nil {
		return err
	}
	return t.sockets.Write(ctx, t.store)
}
