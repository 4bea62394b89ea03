package imgcache

import (
	"fmt"
	"sort"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// The store's side of persistence and recovery: what package disk
// found or stored, turned into (or taken out of) the state machine.

// load replays the snapshots kept under st.dir (disk.Dir.Load): finished
// ones are served again once confirmed, unfinished ones wait
// resumeTTL for their proxy to resume their arriving images.
func (st *store) load() error {
	loaded, err := st.disk.Load()
	if err != nil {
		return err
	}
	for _, l := range loaded {
		s := &snapshot{id: l.ID, parent: l.Parent, images: map[string]*image{}, xfers: map[uint64]*image{},
			changed: make(chan struct{}), disk: l.Snap, touched: time.Now(), finished: l.Finished, confirmed: l.Confirmed}
		if s.finished {
			s.heldAt = time.Now()
		}
		for _, li := range l.Images {
			img := &image{name: li.Name, xfer: li.Xfer, snap: s, file: li.File, path: li.Path, length: li.Size,
				crc: li.CRC, state: complete, corrupt: li.Corrupt, changed: make(chan struct{})}
			if li.Arriving {
				img.state = arriving
			}
			s.images[li.Name] = img
			s.xfers[li.Xfer] = img
		}
		if s.finished {
			for _, img := range s.images {
				s.manifest = append(s.manifest, remoteimg.ImageInfo{Name: img.name, Size: img.length, CRC: img.crc})
			}
			sort.Slice(s.manifest, func(i, j int) bool { return s.manifest[i].Name < s.manifest[j].Name })
		}
		st.mu.Lock()
		st.snaps[l.ID] = s
		st.mu.Unlock()
	}
	return nil
}

// removeDisk closes s's journal and removes its directory (disk mode);
// st.mu held.
func (st *store) removeDisk(s *snapshot) {
	if s.disk != nil {
		s.disk.Close()
		s.disk.Remove()
		s.disk = nil
	}
}

// verify checks a complete image held in a file against its committed
// size and CRC, reading it whole; a mismatch marks the image corrupt
// (never served again; the file stays). Images in memory or still
// arriving are not read back: their bytes are those the CRC was
// computed over as they arrived.
func (st *store) verify(img *image) error {
	st.mu.Lock()
	f, state, size, want, bad := img.file, img.state, img.length, img.crc, img.corrupt
	st.mu.Unlock()
	if bad != nil {
		return bad
	}
	if f == nil || state != complete {
		return nil
	}
	err := f.Verify(size, want)
	if err != nil {
		err = fmt.Errorf("image %s of snapshot %s: %w: %v", img.name, img.snap.id, remoteimg.ErrCorrupt, err)
		st.mu.Lock()
		img.corrupt = err
		st.mu.Unlock()
	}
	return err
}
