package disk

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/criugo/criu/remoteimg"
)

// Loaded is a snapshot Load found on disk.
type Loaded struct {
	ID, Parent string
	Finished   bool  // its Finish was accepted ("held", or "finish"): held, served once confirmed
	Confirmed  bool  // its dump confirmed it ("finish")
	Snap       *Snap // its directory; the journal is open unless Finished
	// Images are its transfers, each name's current one last: the
	// committed images, then (unfinished only) the part files, arriving.
	// One of a name that a later one replaces has its File closed by Load.
	Images []Image
}

// Image is one transfer Load found.
type Image struct {
	Commit          // transfer, name, size and CRC (of what the part file holds, when arriving)
	Path     string // its file
	File     *File  // open; nil when Corrupt, or replaced by a later transfer of its name
	Arriving bool   // a part file, for its proxy to resume
	// Corrupt is set on an image of a finished snapshot that is missing
	// or resized: it is served as this error, its file stays.
	Corrupt error
}

// Load replays the snapshots kept under the directory. A finished
// snapshot is never deleted here, whatever is wrong with it: an image
// that is missing or of the wrong size is served as corrupt (restore
// fails and says so), the files stay for a human to look at. An
// unfinished one keeps the images that check out, for its proxy to
// resume; it is dropped only when it has no journal at all. What Load
// does not return it has closed; what it returns holds open files (the
// journal of an unfinished snapshot, the images' files) that the
// caller owns.
func (d *Dir) Load() ([]*Loaded, error) {
	ents, err := os.ReadDir(d.root)
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	var out []*Loaded
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), trashPrefix) {
			_ = os.RemoveAll(filepath.Join(d.root, e.Name()))
			continue
		}
		if !e.IsDir() || remoteimg.CheckName(e.Name()) != nil {
			continue
		}
		l, err := d.loadSnapshot(filepath.Join(d.root, e.Name()), e.Name())
		switch {
		case err == nil:
			out = append(out, l)
		case errors.Is(err, fs.ErrNotExist):
			// No journal: the snapshot never got past its creation, and
			// a Finish is acknowledged only once its journal is renamed
			// in place.
			d.log.Warn().Str("snapshot", e.Name()).Msg("dropping a kept snapshot directory without a journal")
			removeDir(filepath.Join(d.root, e.Name()), d.log)
		default:
			d.log.Error().Str("snapshot", e.Name()).Err(err).Msg("kept snapshot unreadable: not served, left on disk")
		}
	}
	return out, nil
}

func (d *Dir) loadSnapshot(dir, id string) (*Loaded, error) {
	_ = os.Remove(filepath.Join(dir, ".journal.new")) // a Finish that was never acknowledged
	jf, err := os.OpenFile(filepath.Join(dir, ".journal"), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	l := &Loaded{ID: id, Snap: &Snap{dir: dir, log: d.log, journal: jf}}
	// The last commit of each name wins (an image sent again replaces
	// the earlier one); lines that do not parse are skipped (a torn last
	// line after a crash).
	commits := map[string]Commit{}
	sc := bufio.NewScanner(jf)
	for sc.Scan() {
		line := sc.Text()
		verb, rest, _ := strings.Cut(line, " ")
		var err error
		switch verb {
		case "parent":
			var p string
			if p, err = strconv.Unquote(rest); err == nil {
				l.Parent = p
			}
		case "commit":
			var c Commit
			if c, err = parseCommit(rest); err == nil {
				commits[c.Name] = c
			}
		case "held":
			l.Finished = true
		case "finish":
			// "finish commit …": the Confirm carried this late image.
			if rest != "" {
				var c Commit
				late, ok := strings.CutPrefix(rest, "commit ")
				if c, err = parseCommit(late); err == nil && !ok {
					err = errors.New("bad finish line")
				}
				if err != nil {
					break // torn: the Confirm was never acknowledged
				}
				commits[c.Name] = c
			}
			l.Finished, l.Confirmed = true, true
		default:
			err = errors.New("unknown line")
		}
		if err != nil {
			d.log.Warn().Str("snapshot", id).Str("line", line).Err(err).Msg("journal line skipped")
		}
	}
	if err := sc.Err(); err != nil {
		l.Snap.Close()
		if !l.Finished {
			return nil, err
		}
		d.log.Error().Str("snapshot", id).Err(err).Msg("journal of a finished snapshot partly unreadable")
	}
	cur := map[string]int{} // index in l.Images of each name's current transfer
	xfers := map[uint64]bool{}
	add := func(img Image) {
		cur[img.Name] = len(l.Images)
		xfers[img.Xfer] = true
		l.Images = append(l.Images, img)
	}
	for _, c := range commits {
		img := Image{Commit: c, Path: filepath.Join(dir, c.Name)}
		file, err := os.Open(img.Path)
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
			if !l.Finished {
				d.log.Warn().Err(err).Msg("committed image of an unfinished snapshot dropped")
				continue
			}
			d.log.Error().Err(err).Msg("finished snapshot damaged on disk: kept, its restore will fail")
			img.Corrupt = err
		} else {
			img.File = &File{f: file}
		}
		add(img)
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
		if !ok || err != nil || l.Finished || remoteimg.CheckName(name) != nil || xfers[xfer] {
			_ = os.Remove(path)
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		h := crc32.New(remoteimg.Castagnoli())
		size, err := io.Copy(h, f)
		if err != nil {
			f.Close()
			continue
		}
		if i, ok := cur[name]; ok && l.Images[i].File != nil {
			// An older committed version: the arriving one replaces it.
			l.Images[i].File.Close()
			l.Images[i].File = nil
		}
		add(Image{Commit: Commit{Xfer: xfer, ImageInfo: remoteimg.ImageInfo{Name: name, Size: uint64(size), CRC: h.Sum32()}},
			Path: path, File: &File{f: f}, Arriving: true})
	}
	if l.Finished {
		l.Snap.Close()
	}
	d.log.Info().Str("snapshot", id).Bool("finished", l.Finished).Int("images", len(cur)).Msg("kept snapshot loaded")
	return l, nil
}
