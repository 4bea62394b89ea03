package remote

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/remoteimg"
)

// Pre-dump chains over the remote store (image.Chained). A snapshot names
// its parent snapshot in Put and Finish; the cache records it (Finish has
// the last word) and reports it in List.
//
// Write mode: SetParent names the parent. Parent opens it for reading
// through the proxy's socket (the proxy relays a reader's Get and List to
// the cache), so that dump can read the parent's pagemaps and leave the
// pages that did not change in the parent. The parent must be a finished
// snapshot the cache holds.
//
// Read mode: Parent asks the cache which parent the snapshot names and
// opens it; a snapshot whose parent the cache does not hold is an error
// that names both.

func (s *Store) parentID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parent
}

// SetParent implements image.Chained (write mode): the snapshot builds on
// the parent snapshot. ref is the parent's images directory (as given to
// --prev-images-dir: relative to Options.Dir unless absolute), whose
// snapshot id is derived as remoteimg.SnapshotID does; an id set in
// Options.Parent takes precedence. It must be called before the first
// Create.
func (s *Store) SetParent(_ context.Context, ref string) error {
	if s.opts.Mode != ModeWrite {
		return fmt.Errorf("set parent snapshot: store is read-only")
	}
	if s.opts.Parent != "" {
		s.opts.Log.Debug().Str("parent", s.opts.Parent).Str("dir", ref).Msg("parent snapshot set by id, directory ignored")
		return nil
	}
	if ref == "" {
		return fmt.Errorf("set parent snapshot: empty path")
	}
	dir := ref
	if !filepath.IsAbs(dir) {
		if s.opts.Dir == "" {
			return fmt.Errorf("parent images %s: a relative directory needs the images dir (-D), or name the parent with its snapshot id", ref)
		}
		dir = filepath.Join(s.opts.Dir, ref)
	}
	id := remoteimg.SnapshotID(dir)
	if id == s.opts.Snapshot {
		return fmt.Errorf("parent images %s: snapshot %s cannot be its own parent", ref, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.manifest) > 0 || len(s.open) > 0 {
		return fmt.Errorf("set parent snapshot: images already written")
	}
	s.parent = id
	return nil
}

// Parent implements image.Chained: the parent snapshot, opened for reading
// (through the proxy in write mode, from the cache in read mode). It
// returns an error for which errors.Is(err, image.ErrNoParent) holds when
// the snapshot names no parent, and a remoteimg.ErrNotExist error when the
// cache does not hold the parent (or holds it unfinished).
func (s *Store) Parent(ctx context.Context) (image.Store, error) {
	id := s.opts.Snapshot
	parent := s.parentID()
	if s.opts.Mode == ModeWrite && parent == "" {
		return nil, fmt.Errorf("snapshot %s: %w", id, image.ErrNoParent)
	}
	// In read mode the cache says which parent the snapshot names.
	snaps, err := ListSnapshots(ctx, s.socket)
	if err != nil {
		return nil, fmt.Errorf("parent of snapshot %s: %w", id, err)
	}
	find := func(id string) *remoteimg.SnapshotInfo {
		for i := range snaps {
			if snaps[i].ID == id {
				return &snaps[i]
			}
		}
		return nil
	}
	if s.opts.Mode == ModeRead {
		if self := find(id); self != nil {
			parent = self.Parent
		}
		if parent == "" {
			return nil, fmt.Errorf("snapshot %s: %w", id, image.ErrNoParent)
		}
	}
	info := find(parent)
	switch {
	case info == nil:
		return nil, fmt.Errorf("snapshot %s builds on snapshot %s, which the image cache does not hold: %w", id, parent, remoteimg.ErrNotExist)
	case info.Held:
		return nil, fmt.Errorf("snapshot %s builds on snapshot %s, which the image cache holds unconfirmed by its dump: %w", id, parent, remoteimg.ErrNotExist)
	case !info.Finished:
		return nil, fmt.Errorf("snapshot %s builds on snapshot %s, which the image cache holds unfinished: %w", id, parent, remoteimg.ErrNotExist)
	}
	return &Store{socket: s.socket, opts: Options{Snapshot: parent, Mode: ModeRead, Log: s.opts.Log},
		manifest: map[string]remoteimg.ImageInfo{}, open: map[*Writer]struct{}{}}, nil
}
