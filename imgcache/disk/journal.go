package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/criugo/criu/remoteimg"
)

// The journal's format is drawn in doc.go.

// Commit is one commit line: an image committed under transfer Xfer.
type Commit struct {
	Xfer uint64
	remoteimg.ImageInfo
}

func commitLine(xfer uint64, size uint64, crc uint32, name string) string {
	return fmt.Sprintf("commit %016x %d %d %q\n", xfer, size, crc, name)
}

// parseCommit parses the rest of a commit line.
func parseCommit(rest string) (Commit, error) {
	f := strings.SplitN(rest, " ", 4)
	if len(f) != 4 {
		return Commit{}, errors.New("bad commit line")
	}
	xfer, e1 := strconv.ParseUint(f[0], 16, 64)
	size, e2 := strconv.ParseUint(f[1], 10, 64)
	crc, e3 := strconv.ParseUint(f[2], 10, 32)
	name, e4 := strconv.Unquote(f[3])
	if err := errors.Join(e1, e2, e3, e4); err != nil {
		return Commit{}, err
	}
	if err := remoteimg.CheckName(name); err != nil {
		return Commit{}, err
	}
	return Commit{Xfer: xfer, ImageInfo: remoteimg.ImageInfo{Name: name, Size: size, CRC: uint32(crc)}}, nil
}

// writeFinishedJournal atomically replaces dir's journal by the finished
// one of parent and recs.
func writeFinishedJournal(dir, parent string, recs []Commit) error {
	var b strings.Builder
	fmt.Fprintf(&b, "parent %q\n", parent)
	for _, r := range recs {
		b.WriteString(commitLine(r.Xfer, r.Size, r.CRC, r.Name))
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
