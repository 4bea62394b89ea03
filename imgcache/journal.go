package imgcache

import (
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// A snapshot's journal (DIR/snapshots/<id>/.journal) is a text file of
// lines, appended while the snapshot arrives:
//
//	parent "<id>"                         the parent named by the first Put
//	commit <xfer hex> <size> <crc> "<name>" an image committed (file fsynced, renamed)
//
// At Finish the journal is replaced whole (written to .journal.new,
// fsynced, renamed over .journal, the directory fsynced) by one that
// holds exactly the manifest:
//
//	parent "<id>"
//	commit … (one line per manifest image)
//	held
//
// so that a restarted cache replays a finished snapshot from its
// manifest alone, whatever earlier attempts under the id appended. The
// Finish is acknowledged only after that rename is durable. The dump's
// Confirm (two-phase finish) then appends, synced, one line:
//
//	finish                                  no late image
//	finish commit <xfer hex> <size> <crc> "stats-dump.img"
//
// the second when the Confirm carried the late image (remoteimg.Confirm),
// whose file is synced and renamed in place before the line is written:
// the image and the confirmation are recorded by the same line, and a
// torn one leaves the snapshot held as if the Confirm never came. Only
// then is the snapshot served (a journal ending in "held" is a
// snapshot its dump never confirmed; journals of older caches end in
// "finish" alone).

// journalCommit is one commit line.
type journalCommit struct {
	xfer uint64
	remoteimg.ImageInfo
}

func commitLine(xfer uint64, size uint64, crc uint32, name string) string {
	return fmt.Sprintf("commit %016x %d %d %q\n", xfer, size, crc, name)
}

// journal appends a line to s's journal (disk mode), optionally synced.
func (st *store) journal(s *snapshot, line string, sync bool) error {
	st.mu.Lock()
	j := s.journal
	st.mu.Unlock()
	if j == nil {
		return nil
	}
	if _, err := j.WriteString(line); err != nil {
		return err
	}
	if sync {
		return j.Sync()
	}
	return nil
}

// writeFinishedJournal atomically replaces dir's journal by the finished
// one of parent and recs.
func writeFinishedJournal(dir, parent string, recs []journalCommit) error {
	var b strings.Builder
	fmt.Fprintf(&b, "parent %q\n", parent)
	for _, r := range recs {
		b.WriteString(commitLine(r.xfer, r.Size, r.CRC, r.Name))
	}
	b.WriteString("held\n")
	tmp := filepath.Join(dir, ".journal.new")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(b.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, ".journal"))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// appendJournal appends line to dir's journal and syncs it.
func appendJournal(dir, line string) error {
	f, err := os.OpenFile(filepath.Join(dir, ".journal"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// trashPrefix names the directories a dropped snapshot is renamed to
// before it is removed: the rename takes the snapshot away at once (a
// crash mid-removal cannot leave half a snapshot under its id); load
// removes what a crash left.
const trashPrefix = ".trash."

// removeDir takes a snapshot directory away: renamed out of the way,
// then removed.
func (st *store) removeDir(dir string) {
	if _, err := os.Lstat(dir); err != nil {
		return
	}
	trash := filepath.Join(filepath.Dir(dir), fmt.Sprintf("%s%s.%d", trashPrefix, filepath.Base(dir), time.Now().UnixNano()))
	if err := os.Rename(dir, trash); err != nil {
		st.log.Warn().Err(err).Str("dir", dir).Msg("remove snapshot dir")
		trash = dir
	}
	if err := os.RemoveAll(trash); err != nil {
		st.log.Warn().Err(err).Str("dir", dir).Msg("remove snapshot dir")
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
	h := crc32.New(remoteimg.Castagnoli)
	n, err := io.Copy(h, io.NewSectionReader(f, 0, int64(size)+1))
	switch {
	case err != nil:
		err = fmt.Errorf("image %s of snapshot %s: %w: read back: %v", img.name, img.snap.id, remoteimg.ErrCorrupt, err)
	case uint64(n) != size:
		err = fmt.Errorf("image %s of snapshot %s: %w: %d bytes on disk, %d committed", img.name, img.snap.id, remoteimg.ErrCorrupt, n, size)
	case h.Sum32() != want:
		err = fmt.Errorf("image %s of snapshot %s: %w: the file on disk has crc %08x, %08x was committed",
			img.name, img.snap.id, remoteimg.ErrCorrupt, h.Sum32(), want)
	}
	if err != nil {
		st.mu.Lock()
		img.corrupt = err
		st.mu.Unlock()
	}
	return err
}
