package disk

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/criugo/criu/remoteimg"
	"github.com/rs/zerolog"
)

// Dir is the cache's directory (DIR/snapshots).
type Dir struct {
	root string
	log  zerolog.Logger
}

// Open makes DIR/snapshots if need be.
func Open(dir string, log zerolog.Logger) (*Dir, error) {
	root := filepath.Join(dir, "snapshots")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	return &Dir{root: root, log: log}, nil
}

// Snap is one snapshot's directory. Its journal is open from Create
// until Finish (or Close); a snapshot loaded unfinished has it open
// too.
type Snap struct {
	dir string
	log zerolog.Logger

	// mu protects journal. It is held only to read or swap the pointer
	// (writes to the file are made without it), and nothing is taken
	// while it is held: callers may hold their own locks (imgcache's
	// store.mu) when they call Close.
	mu      sync.Mutex
	journal *os.File
}

// Create makes snapshot id's directory and its journal, naming parent.
// A directory already there under id is one the cache does not know
// (those it dropped are gone from disk): one recovery could not read
// and left alone, refused with ErrExist. On an error after the
// directory was made, it stays (and its journal is closed).
func (d *Dir) Create(id, parent string) (*Snap, error) {
	s := &Snap{dir: filepath.Join(d.root, id), log: d.log}
	if _, err := os.Lstat(s.dir); err == nil {
		return nil, fmt.Errorf("snapshot %s: %w: the cache directory holds a kept snapshot it could not read under this id (%s); "+
			"move it away to reuse the id", id, remoteimg.ErrExist, s.dir)
	}
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create snapshot dir: %w", err)
	}
	j, err := os.OpenFile(filepath.Join(s.dir, ".journal"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create snapshot journal: %w", err)
	}
	if _, err := fmt.Fprintf(j, "parent %q\n", parent); err != nil {
		j.Close()
		return nil, fmt.Errorf("write snapshot journal: %w", err)
	}
	s.journal = j
	return s, nil
}

// Path is the snapshot's directory.
func (s *Snap) Path() string { return s.dir }

// Part creates the part file of transfer xfer of image name (truncated
// if there was one) and returns it with its path.
func (s *Snap) Part(xfer uint64, name string) (*File, string, error) {
	path := s.partPath(xfer, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("create image file: %w", err)
	}
	return &File{f: f}, path, nil
}

func (s *Snap) partPath(xfer uint64, name string) string {
	return filepath.Join(s.dir, fmt.Sprintf(".part.%016x.%s", xfer, name))
}

// Commit makes image name, written to f at part, durable: f synced,
// renamed to its name, and (while the journal is open) a commit line
// appended and synced. It returns the image's final path. The caller
// serialises Commit with f's writes.
func (s *Snap) Commit(f *File, part string, xfer, size uint64, crc uint32, name string) (string, error) {
	final := filepath.Join(s.dir, name)
	err := f.f.Sync()
	if err == nil {
		err = os.Rename(part, final)
	}
	if err == nil {
		err = s.appendOpen(commitLine(xfer, size, crc, name))
	}
	return final, err
}

// appendOpen appends a line to the open journal and syncs it; with the
// journal closed (the snapshot finished or dropped) it does nothing.
func (s *Snap) appendOpen(line string) error {
	s.mu.Lock()
	j := s.journal
	s.mu.Unlock()
	if j == nil {
		return nil
	}
	if _, err := j.WriteString(line); err != nil {
		return err
	}
	return j.Sync()
}

// Finish closes the journal and replaces it whole (rename, directory
// synced) by the finished one: parent, recs, "held". When it returns
// nil the snapshot is durably held.
func (s *Snap) Finish(parent string, recs []Commit) error {
	s.Close()
	return writeFinishedJournal(s.dir, parent, recs)
}

// WriteLate stores a Confirm's late image as committed images are
// stored: written to a part file, synced, renamed to its name. It
// returns the file, open for reading, and its path. On an error
// nothing is left open and the part file is removed.
func (s *Snap) WriteLate(xfer uint64, name string, b []byte) (*File, string, error) {
	part := s.partPath(xfer, name)
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return nil, "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	final := filepath.Join(s.dir, name)
	if err == nil {
		err = os.Rename(part, final)
	}
	if err != nil {
		f.Close()
		_ = os.Remove(part)
		return nil, "", err
	}
	return &File{f: f}, final, nil
}

// Confirm appends the confirmation to the finished journal, synced:
// "finish", or "finish commit …" naming late (stored by WriteLate).
func (s *Snap) Confirm(late *Commit) error {
	line := "finish\n"
	if late != nil {
		line = "finish " + commitLine(late.Xfer, late.Size, late.CRC, late.Name)
	}
	return appendJournal(s.dir, line)
}

// Close closes the journal if it is open. Safe twice.
func (s *Snap) Close() {
	s.mu.Lock()
	j := s.journal
	s.journal = nil
	s.mu.Unlock()
	if j != nil {
		j.Close()
	}
}

// trashPrefix names the directories a dropped snapshot is renamed to
// before it is removed: the rename takes the snapshot away at once (a
// crash mid-removal cannot leave half a snapshot under its id); Load
// removes what a crash left.
const trashPrefix = ".trash."

// Remove takes the snapshot's directory away: renamed out of the way,
// then removed. Failures are logged.
func (s *Snap) Remove() { removeDir(s.dir, s.log) }

func removeDir(dir string, log zerolog.Logger) {
	if _, err := os.Lstat(dir); err != nil {
		return
	}
	trash := filepath.Join(filepath.Dir(dir), fmt.Sprintf("%s%s.%d", trashPrefix, filepath.Base(dir), time.Now().UnixNano()))
	if err := os.Rename(dir, trash); err != nil {
		log.Warn().Err(err).Str("dir", dir).Msg("remove snapshot dir")
		trash = dir
	}
	if err := os.RemoveAll(trash); err != nil {
		log.Warn().Err(err).Str("dir", dir).Msg("remove snapshot dir")
	}
}
