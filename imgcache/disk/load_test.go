package disk

// Recovery: Load on directories a crashed (or killed, or older) cache
// left, and that no failure of it leaves a file open.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/criugo/criu/remoteimg"
)

// layout writes files under root: a name ending in "/" is a directory,
// a value starting with "->" a symlink to the rest.
func layout(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o700)
		case strings.HasPrefix(body, "->"):
			err = os.Symlink(body[2:], p)
		default:
			err = os.WriteFile(p, []byte(body), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func commitOf(xfer uint64, name, body string) string {
	return commitLine(xfer, uint64(len(body)), crcOf([]byte(body)), name)
}

// load opens the cache directory root and loads it, saying how many fds
// were open before Load.
func load(t *testing.T, root string) (*Dir, []*Loaded, int) {
	t.Helper()
	d, err := Open(root, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	before := openFDs()
	ls, err := d.Load()
	if err != nil {
		t.Fatal(err)
	}
	return d, ls, before
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestLoadCrashLeftDirectory(t *testing.T) {
	root := t.TempDir()
	snaps := filepath.Join(root, "snapshots")
	layout(t, snaps, map[string]string{
		// Removed: a dropped snapshot's removal cut short, a snapshot
		// that never got its journal.
		".trash.old.123/a.img": "x",
		"nojournal/a.img":      "x",
		// Finished and confirmed; a Finish retried after a crash left its
		// .journal.new, an earlier attempt a part file.
		"fin/.journal":                     `parent ""` + "\n" + commitOf(1, "a.img", "alpha") + "held\nfinish\n",
		"fin/a.img":                        "alpha",
		"fin/.journal.new":                 "parent \"\"\n",
		"fin/.part.0000000000000002.b.img": "bb",
		// Held: the Confirm's line was torn, as if it never came.
		"held/.journal": `parent "fin"` + "\n" + commitOf(1, "a.img", "alpha") + "held\nfinish commit 00000",
		"held/a.img":    "alpha",
		// Unfinished, for its proxy to resume.
		"arr/.journal": `parent "fin"` + "\n" + commitOf(1, "a.img", "alpha") + commitOf(2, "b.img", "bravo") +
			commitOf(5, "e.img", "echo") + "bogus line\n",
		"arr/a.img":                        "alpha",
		"arr/b.img":                        "bra",     // truncated: dropped
		"arr/e.img":                        "echo",    // replaced by its new attempt (xfer 6)
		"arr/.part.0000000000000003.c.img": "charlie", // arriving
		"arr/.part.0000000000000006.e.img": "ec",      // arriving, replaces e.img
		"arr/.part.0000000000000001.x.img": "xfer 1 is a.img's: removed",
		"arr/.part.zz.d.img":               "bad id: removed",
		// Finished, damaged: served as corrupt, files stay.
		"dmg/.journal": `parent ""` + "\n" + commitOf(1, "a.img", "alpha") + commitOf(2, "b.img", "bravo") + "held\nfinish\n",
		"dmg/a.img":    "alp",
		// Unreadable: left alone, not served.
		"unread/.journal/": "",
		"long/.journal":    `parent ""` + "\ncommit " + strings.Repeat("9", 70<<10) + "\n",
	})
	d, ls, before := load(t, root)
	if got, want := openFDs()-before, heldFDs(ls); got != want {
		t.Fatalf("%d fds open after Load, the loaded snapshots hold %d", got, want)
	}
	defer func() {
		closeLoaded(ls)
		if got := openFDs(); got != before {
			t.Errorf("%d fds open after closing what Load returned, %d before", got, before)
		}
	}()
	got := map[string]*Loaded{}
	for _, l := range ls {
		got[l.ID] = l
	}
	if len(got) != 4 || got["fin"] == nil || got["held"] == nil || got["arr"] == nil || got["dmg"] == nil {
		t.Fatalf("loaded %v", got)
	}
	for _, p := range []string{".trash.old.123", "nojournal", "fin/.journal.new", "fin/.part.0000000000000002.b.img",
		"arr/.part.0000000000000001.x.img", "arr/.part.zz.d.img"} {
		if exists(filepath.Join(snaps, p)) {
			t.Errorf("%s not removed", p)
		}
	}
	for _, p := range []string{"unread/.journal", "long/.journal", "dmg/a.img", "arr/b.img", "arr/e.img"} {
		if !exists(filepath.Join(snaps, p)) {
			t.Errorf("%s removed", p)
		}
	}
	images := func(l *Loaded) string {
		var s []string
		for _, img := range l.Images {
			s = append(s, fmt.Sprintf("%x:%s:%d:open=%v:arriving=%v:corrupt=%v", img.Xfer, img.Name, img.Size,
				img.File != nil, img.Arriving, img.Corrupt != nil))
		}
		return strings.Join(s, " ")
	}
	if l := got["fin"]; !l.Finished || !l.Confirmed || l.Snap.journal != nil || images(l) != "1:a.img:5:open=true:arriving=false:corrupt=false" {
		t.Errorf("fin: %+v %s", l, images(l))
	}
	if l := got["held"]; !l.Finished || l.Confirmed || l.Parent != "fin" || l.Snap.journal != nil {
		t.Errorf("held: %+v", l)
	}
	l := got["arr"]
	if l.Finished || l.Parent != "fin" || l.Snap.journal == nil {
		t.Errorf("arr: %+v", l)
	}
	// Committed images in any order, then the parts by name.
	arr := map[string]Image{}
	for i, img := range l.Images {
		if i < 2 && img.Arriving || i >= 2 && !img.Arriving {
			t.Errorf("arr: image %d %s out of order: %s", i, img.Name, images(l))
		}
		arr[fmt.Sprintf("%x:%s", img.Xfer, img.Name)] = img
	}
	if len(arr) != 4 {
		t.Fatalf("arr: %s", images(l))
	}
	if img := arr["1:a.img"]; img.File == nil || img.Size != 5 || img.Arriving {
		t.Errorf("arr a.img: %+v", img)
	}
	if img := arr["5:e.img"]; img.File != nil {
		t.Errorf("arr: e.img's replaced version still open: %+v", img)
	}
	if img := arr["3:c.img"]; img.File == nil || !img.Arriving || img.Size != 7 || img.CRC != crcOf([]byte("charlie")) {
		t.Errorf("arr c.img: %+v", img)
	}
	if img := arr["6:e.img"]; img.File == nil || !img.Arriving || img.Size != 2 || img.CRC != crcOf([]byte("ec")) {
		t.Errorf("arr e.img: %+v", img)
	}
	for _, img := range got["dmg"].Images {
		if img.File != nil || !errors.Is(img.Corrupt, remoteimg.ErrCorrupt) ||
			!strings.HasPrefix(img.Corrupt.Error(), "image "+img.Name+" of kept snapshot dmg: ") {
			t.Errorf("dmg %s: %+v", img.Name, img)
		}
	}
	// The unreadable snapshot's id is refused to a new dump.
	if _, err := d.Create("unread", ""); !errors.Is(err, remoteimg.ErrExist) {
		t.Errorf("create over an unreadable snapshot: %v", err)
	}
}

// Reload fails in many ways; none leaves an fd open.
func TestLoadFailuresLeaveNoFD(t *testing.T) {
	long := "commit " + strings.Repeat("9", 70<<10) + "\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		held  int // fds the loaded snapshot keeps (journal, images)
	}{
		{"corrupt journal", map[string]string{"s/.journal": `parent ""` + "\n" + long, "s/a.img": "x"}, 0},
		{"corrupt journal, finished", map[string]string{
			"s/.journal": `parent ""` + "\n" + commitOf(1, "a.img", "alpha") + "held\n" + long, "s/a.img": "alpha"}, 1},
		{"garbage journal", map[string]string{"s/.journal": "\x00\xff\n\n\ncommit 1 2\nfinish commit x\n"}, 1},
		{"journal is a directory", map[string]string{"s/.journal/": ""}, 0},
		{"journal is a symlink loop", map[string]string{"s/.journal": "->.journal"}, 0},
		{"truncated image, finished", map[string]string{
			"s/.journal": `parent ""` + "\n" + commitOf(1, "a.img", "alpha") + "held\n", "s/a.img": "al"}, 0},
		{"truncated image, unfinished", map[string]string{
			"s/.journal": `parent ""` + "\n" + commitOf(1, "a.img", "alpha"), "s/a.img": "al"}, 1},
		{"missing image", map[string]string{"s/.journal": `parent ""` + "\n" + commitOf(1, "a.img", "alpha") + "held\nfinish\n"}, 0},
		{"image is a directory", map[string]string{
			"s/.journal": `parent ""` + "\n" + commitOf(1, "a.img", "alpha") + "held\n", "s/a.img/": ""}, 0},
		{"image is a symlink loop", map[string]string{
			"s/.journal": `parent ""` + "\n" + commitOf(1, "a.img", "alpha") + "held\n", "s/a.img": "->a.img"}, 0},
		{"part is a directory", map[string]string{"s/.journal": `parent ""` + "\n", "s/.part.0000000000000001.a.img/": ""}, 1},
		{"part is a dangling symlink", map[string]string{"s/.journal": `parent ""` + "\n", "s/.part.0000000000000001.a.img": "->gone"}, 1},
		{"part of a finished snapshot", map[string]string{"s/.journal": `parent ""` + "\nheld\n", "s/.part.0000000000000001.a.img": "x"}, 0},
		{"no journal", map[string]string{"s/a.img": "x"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			layout(t, filepath.Join(root, "snapshots"), tc.files)
			_, ls, before := load(t, root)
			if got := openFDs() - before; got != tc.held || heldFDs(ls) != tc.held {
				t.Errorf("%d fds open after Load (%d held by what it returned), want %d", got, heldFDs(ls), tc.held)
			}
			closeLoaded(ls)
			if got := openFDs(); got != before {
				t.Errorf("%d fds open after closing what Load returned, %d before", got, before)
			}
		})
	}
}
