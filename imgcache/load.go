package imgcache

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// load replays the snapshots kept under st.dir. A finished snapshot is
// never deleted here, whatever is wrong with it: an image that is
// missing or of the wrong size is served as corrupt (restore fails and
// says so), the files stay for a human to look at. An unfinished one
// keeps the images that check out, for its proxy to resume; it is
// dropped only when it has no journal at all.
func (st *store) load() error {
	root := filepath.Join(st.dir, "snapshots")
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("cache dir: %w", err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), trashPrefix) {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
			continue
		}
		if !e.IsDir() || remoteimg.CheckName(e.Name()) != nil {
			continue
		}
		err := st.loadSnapshot(filepath.Join(root, e.Name()), e.Name())
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			// No journal: the snapshot never got past its creation, and
			// a Finish is acknowledged only once its journal is renamed
			// in place.
			st.log.Warn().Str("snapshot", e.Name()).Msg("dropping a kept snapshot directory without a journal")
			st.removeDir(filepath.Join(root, e.Name()))
		default:
			st.log.Error().Str("snapshot", e.Name()).Err(err).Msg("kept snapshot unreadable: not served, left on disk")
		}
	}
	return nil
}

// parseCommit parses the rest of a commit line.
func parseCommit(rest string) (journalCommit, error) {
	f := strings.SplitN(rest, " ", 4)
	if len(f) != 4 {
		return journalCommit{}, errors.New("bad commit line")
	}
	xfer, e1 := strconv.ParseUint(f[0], 16, 64)
	size, e2 := strconv.ParseUint(f[1], 10, 64)
	crc, e3 := strconv.ParseUint(f[2], 10, 32)
	name, e4 := strconv.Unquote(f[3])
	if err := errors.Join(e1, e2, e3, e4); err != nil {
		return journalCommit{}, err
	}
	if err := remoteimg.CheckName(name); err != nil {
		return journalCommit{}, err
	}
	return journalCommit{xfer: xfer, ImageInfo: remoteimg.ImageInfo{Name: name, Size: size, CRC: uint32(crc)}}, nil
}

func (st *store) loadSnapshot(dir, id string) error {
	_ = os.Remove(filepath.Join(dir, ".journal.new")) // a Finish that was never acknowledged
	jf, err := os.OpenFile(filepath.Join(dir, ".journal"), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	s := &snapshot{id: id, images: map[string]*image{}, xfers: map[uint64]*image{}, changed: make(chan struct{}),
		dir: dir, journal: jf, touched: time.Now()}
	// The last commit of each name wins (an image sent again replaces
	// the earlier one); lines that do not parse are skipped (a torn last
	// line after a crash).
	commits := map[string]journalCommit{}
	sc := bufio.NewScanner(jf)
	for sc.Scan() {
		line := sc.Text()
		verb, rest, _ := strings.Cut(line, " ")
		var err error
		switch verb {
		case "parent":
			var p string
			if p, err = strconv.Unquote(rest); err == nil {
				s.parent = p
			}
		case "commit":
			var c journalCommit
			if c, err = parseCommit(rest); err == nil {
				commits[c.Name] = c
			}
		case "held":
			s.finished, s.heldAt = true, time.Now()
		case "finish":
			// "finish commit …": the Confirm carried this late image.
			if rest != "" {
				var c journalCommit
				late, ok := strings.CutPrefix(rest, "commit ")
				if c, err = parseCommit(late); err == nil && !ok {
					err = errors.New("bad finish line")
				}
				if err != nil {
					break // torn: the Confirm was never acknowledged
				}
				commits[c.Name] = c
			}
			s.finished, s.confirmed = true, true
		default:
			err = errors.New("unknown line")
		}
		if err != nil {
			st.log.Warn().Str("snapshot", id).Str("line", line).Err(err).Msg("journal line skipped")
		}
	}
	if err := sc.Err(); err != nil {
		jf.Close()
		if !s.finished {
			return err
		}
		st.log.Error().Str("snapshot", id).Err(err).Msg("journal of a finished snapshot partly unreadable")
	}
	for _, c := range commits {
		img := &image{name: c.Name, xfer: c.xfer, snap: s, path: filepath.Join(dir, c.Name), length: c.Size,
			crc: c.CRC, state: complete, changed: make(chan struct{})}
		file, err := os.Open(img.path)
		if err == nil {
			var fi os.FileInfo
			if fi, err = file.Stat(); err == nil && uint64(fi.Size()) != c.Size {
				err = fmt.Errorf("%d bytes on disk, the journal says %d", fi.Size(), c.Size)
			}
			if err != nil {
				file.Close()
			}
		}
		if err != nil {
			err = fmt.Errorf("image %s of kept snapshot %s: %w: %v", c.Name, id, remoteimg.ErrCorrupt, err)
			if !s.finished {
				st.log.Warn().Err(err).Msg("committed image of an unfinished snapshot dropped")
				continue
			}
			st.log.Error().Err(err).Msg("finished snapshot damaged on disk: kept, its restore will fail")
			img.corrupt = err
		} else {
			img.file = file
		}
		s.images[c.Name] = img
		s.xfers[c.xfer] = img
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, ".part.") {
			continue
		}
		path := filepath.Join(dir, n)
		hexid, name, ok := strings.Cut(strings.TrimPrefix(n, ".part."), ".")
		xfer, err := strconv.ParseUint(hexid, 16, 64)
		if !ok || err != nil || s.finished || remoteimg.CheckName(name) != nil || s.xfers[xfer] != nil {
			_ = os.Remove(path)
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		h := crc32.New(remoteimg.Castagnoli)
		size, err := io.Copy(h, f)
		if err != nil {
			f.Close()
			continue
		}
		if old := s.images[name]; old != nil && old.file != nil {
			// An older committed version: the arriving one replaces it.
			old.file.Close()
			old.file = nil
		}
		img := &image{name: name, xfer: xfer, snap: s, file: f, path: path, length: uint64(size),
			crc: h.Sum32(), state: arriving, changed: make(chan struct{})}
		s.images[name] = img
		s.xfers[xfer] = img
	}
	if s.finished {
		for _, img := range s.images {
			s.manifest = append(s.manifest, remoteimg.ImageInfo{Name: img.name, Size: img.length, CRC: img.crc})
		}
		sort.Slice(s.manifest, func(i, j int) bool { return s.manifest[i].Name < s.manifest[j].Name })
		s.journal.Close()
		s.journal = nil
	}
	st.mu.Lock()
	st.snaps[id] = s
	st.mu.Unlock()
	st.log.Info().Str("snapshot", id).Bool("finished", s.finished).Int("images", len(s.images)).Msg("kept snapshot loaded")
	return nil
}
