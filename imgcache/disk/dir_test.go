package disk

// Persistence: what Create, Part, WriteAt, Commit, Finish, WriteLate
// and Confirm leave on disk, byte for byte, and that Load reads it back.

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/criugo/criu/remoteimg"
)

func crcOf(b []byte) uint32 { return crc32.Checksum(b, remoteimg.Castagnoli()) }

func readJournal(t *testing.T, s *Snap) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Path(), ".journal"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSnapPersistence(t *testing.T) {
	root := t.TempDir()
	d, err := Open(root, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Create("s1", "p0")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Path(), filepath.Join(root, "snapshots", "s1"); got != want {
		t.Fatalf("path %s, want %s", got, want)
	}
	if got := readJournal(t, s); got != "parent \"p0\"\n" {
		t.Fatalf("new journal %q", got)
	}
	if _, err := d.Create("s1", ""); !errors.Is(err, remoteimg.ErrExist) {
		t.Fatalf("create over a directory: %v", err)
	}

	// An image larger than two write-behind spans, written in two parts.
	data := bytes.Repeat([]byte("0123456789abcdef"), (2*writeBehindSpan+4096)/16)
	f, part, err := s.Part(7, "a.img")
	if err != nil {
		t.Fatal(err)
	}
	if part != filepath.Join(s.Path(), ".part.0000000000000007.a.img") {
		t.Fatalf("part path %s", part)
	}
	half := len(data) / 2
	if err := f.WriteAt(data[:half], 0); err != nil {
		t.Fatal(err)
	}
	if f.flushed != writeBehindSpan {
		t.Fatalf("write-behind at %d after %d bytes", f.flushed, half)
	}
	if err := f.WriteAt(data[half:], int64(half)); err != nil {
		t.Fatal(err)
	}
	if f.flushed != 2*writeBehindSpan {
		t.Fatalf("write-behind at %d after %d bytes", f.flushed, len(data))
	}
	final, err := s.Commit(f, part, 7, uint64(len(data)), crcOf(data), "a.img")
	if err != nil {
		t.Fatal(err)
	}
	if final != filepath.Join(s.Path(), "a.img") {
		t.Fatalf("final path %s", final)
	}
	if _, err := os.Stat(part); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("part file after commit: %v", err)
	}
	commitA := fmt.Sprintf("commit 0000000000000007 %d %d \"a.img\"\n", len(data), crcOf(data))
	if got := readJournal(t, s); got != "parent \"p0\"\n"+commitA {
		t.Fatalf("journal after commit %q", got)
	}
	if err := f.Verify(uint64(len(data)), crcOf(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(uint64(len(data)-1), crcOf(data)); err == nil || !strings.Contains(err.Error(), "bytes on disk") {
		t.Fatalf("verify, wrong size: %v", err)
	}
	if err := f.Verify(uint64(len(data)), 1); err == nil || !strings.Contains(err.Error(), "the file on disk has crc") {
		t.Fatalf("verify, wrong crc: %v", err)
	}
	f.Close()

	// Finish replaces the journal by the manifest, ending in "held";
	// a commit after it writes no line.
	recs := []Commit{{Xfer: 7, ImageInfo: remoteimg.ImageInfo{Name: "a.img", Size: uint64(len(data)), CRC: crcOf(data)}}}
	if err := s.Finish("p1", recs); err != nil {
		t.Fatal(err)
	}
	held := "parent \"p1\"\n" + commitA + "held\n"
	if got := readJournal(t, s); got != held {
		t.Fatalf("finished journal %q", got)
	}
	if _, err := os.Stat(filepath.Join(s.Path(), ".journal.new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf(".journal.new after finish: %v", err)
	}
	g, gpart, err := s.Part(8, "b.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(g, gpart, 8, 0, 0, "b.img"); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if got := readJournal(t, s); got != held {
		t.Fatalf("journal after a commit past finish %q", got)
	}

	// Confirm with the late image: one line records both.
	late := []byte("stats")
	lf, lpath, err := s.WriteLate(9, remoteimg.LateImage, late)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if b, err := os.ReadFile(lpath); err != nil || !bytes.Equal(b, late) {
		t.Fatalf("late image %q %v", b, err)
	}
	lrec := &Commit{Xfer: 9, ImageInfo: remoteimg.ImageInfo{Name: remoteimg.LateImage, Size: 5, CRC: crcOf(late)}}
	if err := s.Confirm(lrec); err != nil {
		t.Fatal(err)
	}
	want := held + fmt.Sprintf("finish commit 0000000000000009 5 %d \"stats-dump\"\n", crcOf(late))
	if got := readJournal(t, s); got != want {
		t.Fatalf("confirmed journal %q", got)
	}

	// What a restarted cache reads back.
	ls, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	defer closeLoaded(ls)
	if len(ls) != 1 {
		t.Fatalf("loaded %d snapshots", len(ls))
	}
	l := ls[0]
	if l.ID != "s1" || l.Parent != "p1" || !l.Finished || !l.Confirmed || l.Snap.journal != nil || len(l.Images) != 2 {
		t.Fatalf("loaded %+v", l)
	}
	for _, img := range l.Images {
		if img.Corrupt != nil || img.File == nil || img.Arriving {
			t.Fatalf("loaded image %+v", img)
		}
		if err := img.File.Verify(img.Size, img.CRC); err != nil {
			t.Fatal(err)
		}
	}

	// Remove takes the directory away, leaving no trash.
	s.Remove()
	ents, err := os.ReadDir(filepath.Join(root, "snapshots"))
	if err != nil || len(ents) != 0 {
		t.Fatalf("after remove: %v %v", ents, err)
	}
}

// Confirm without a late image appends "finish" alone; a failed
// WriteLate leaves no part file.
func TestSnapConfirmPlain(t *testing.T) {
	d, err := Open(t.TempDir(), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Create("s", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish("", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(nil); err != nil {
		t.Fatal(err)
	}
	if got := readJournal(t, s); got != "parent \"\"\nheld\nfinish\n" {
		t.Fatalf("journal %q", got)
	}
	// The late image's name taken by a directory: the rename fails.
	if err := os.Mkdir(filepath.Join(s.Path(), remoteimg.LateImage), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Path(), remoteimg.LateImage, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WriteLate(3, remoteimg.LateImage, []byte("x")); err == nil {
		t.Fatal("WriteLate over a directory succeeded")
	}
	if _, err := os.Stat(s.partPath(3, remoteimg.LateImage)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("part file after a failed WriteLate: %v", err)
	}
	s.Close()
	s.Close() // safe twice
}
