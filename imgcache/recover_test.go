package imgcache

// Persistence and recovery through the store: what one cache stored
// under its directory, a restarted one serves (or resumes), and a
// reload that meets a broken directory leaves no fd open.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/remoteimg"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestStoreRestart(t *testing.T) {
	dir := t.TempDir()
	before := openFDs(t)
	st := testStore(t, dir, 64<<20, time.Minute)
	fin := map[string][]byte{"a.img": []byte("alpha"), "b.img": []byte("bravo")}
	for i, name := range []string{"a.img", "b.img"} {
		send(t, st, uint64(i+1), "fin", name, fin[name])
	}
	if err := st.finish(&remoteimg.Finish{Snapshot: "fin", Images: manifest(fin)}); err != nil {
		t.Fatal(err)
	}
	late := []byte("stats")
	if err := st.confirm(3, &remoteimg.Confirm{Snapshot: "fin", Name: remoteimg.LateImage, Bytes: late, CRC: crcOf(late)}); err != nil {
		t.Fatal(err)
	}
	send(t, st, 4, "held", "a.img", []byte("held"))
	if err := st.finish(&remoteimg.Finish{Snapshot: "held", Parent: "fin", Images: manifest(map[string][]byte{"a.img": []byte("held")})}); err != nil {
		t.Fatal(err)
	}
	// Unfinished: one image committed, one half sent.
	send(t, st, 5, "arr", "a.img", []byte("one"))
	part, _, err := st.put(6, &remoteimg.Put{Snapshot: "arr", Parent: "fin", Name: "b.img"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.write(context.Background(), part, 0, []byte("two ")); err != nil {
		t.Fatal(err)
	}
	st.close()
	if got := openFDs(t); got != before {
		t.Fatalf("%d fds open after close, %d before", got, before)
	}

	st = testStore(t, dir, 64<<20, time.Minute)
	for name, want := range map[string]string{"a.img": "alpha", "b.img": "bravo", remoteimg.LateImage: "stats"} {
		if b, err := readAll(st, "fin", name, 0); err != nil || string(b) != want {
			t.Errorf("fin/%s after restart: %q %v", name, b, err)
		}
	}
	if si, _ := snapInfo(st, "held"); !si.Held || si.Finished {
		t.Errorf("held after restart: %+v", si)
	}
	if err := st.confirm(7, &remoteimg.Confirm{Snapshot: "held"}); err != nil {
		t.Fatal(err)
	}
	if b, err := readAll(st, "held", "a.img", 0); err != nil || string(b) != "held" {
		t.Errorf("held/a.img confirmed after restart: %q %v", b, err)
	}
	// The half sent image resumes where it was.
	img, _, err := st.put(6, &remoteimg.Put{Snapshot: "arr", Parent: "fin", Name: "b.img"})
	if err != nil {
		t.Fatal(err)
	}
	if img.length != 4 {
		t.Fatalf("resumed at %d, want 4", img.length)
	}
	if n, err := st.write(context.Background(), img, 0, []byte("two two")); err != nil || n != 7 {
		t.Fatalf("resume write: %d %v", n, err)
	}
	if err := st.commit(img, 7, crcOf([]byte("two two"))); err != nil {
		t.Fatal(err)
	}
	arr := map[string][]byte{"a.img": []byte("one"), "b.img": []byte("two two")}
	if err := st.finish(&remoteimg.Finish{Snapshot: "arr", Parent: "fin", Images: manifest(arr)}); err != nil {
		t.Fatal(err)
	}
	if err := st.confirm(8, &remoteimg.Confirm{Snapshot: "arr"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range arr {
		if b, err := readAll(st, "arr", name, 0); err != nil || string(b) != string(want) {
			t.Errorf("arr/%s: %q %v", name, b, err)
		}
	}
	// A file changed on disk behind the cache's back is not served.
	if err := os.WriteFile(filepath.Join(dir, "snapshots", "fin", "a.img"), []byte("ALPHA"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(st, "fin", "a.img", 0); !errors.Is(err, remoteimg.ErrCorrupt) ||
		!strings.Contains(err.Error(), "the file on disk has crc") {
		t.Errorf("changed on disk: %v", err)
	}
	if err := st.release("arr"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshots", "arr")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("released snapshot's directory: %v", err)
	}
	st.close()
	if got := openFDs(t); got != before {
		t.Fatalf("%d fds open after the second close, %d before", got, before)
	}
}

// A cache restarted on a directory a crash left broken in several ways
// serves what it can and leaves no fd open once closed.
func TestStoreReloadFailuresLeaveNoFD(t *testing.T) {
	commit := func(xfer uint64, name, body string) string {
		return fmt.Sprintf("commit %016x %d %d %q\n", xfer, len(body), crcOf([]byte(body)), name)
	}
	files := map[string]string{
		"corrupt/.journal":                        "parent \"\"\ncommit " + strings.Repeat("9", 70<<10) + "\n",
		"truncated/.journal":                      "parent \"\"\n" + commit(1, "a.img", "alpha") + "held\nfinish\n",
		"truncated/a.img":                         "al",
		"missing/.journal":                        "parent \"\"\n" + commit(1, "a.img", "alpha") + "held\nfinish\n",
		"unfinished/.journal":                     "parent \"\"\n" + commit(1, "a.img", "alpha") + commit(2, "b.img", "bravo") + "torn comm",
		"unfinished/a.img":                        "alpha",
		"unfinished/b.img":                        "b",
		"unfinished/.part.0000000000000003.c.img": "ch",
		"ok/.journal":                             "parent \"\"\n" + commit(1, "a.img", "alpha") + "held\nfinish\n",
		"ok/a.img":                                "alpha",
	}
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, "snapshots", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"unreadable/.journal", "imgdir/a.img"} {
		if err := os.MkdirAll(filepath.Join(dir, "snapshots", p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "snapshots", "imgdir", ".journal"),
		[]byte("parent \"\"\n"+commit(1, "a.img", "alpha")+"held\nfinish\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	st := testStore(t, dir, 64<<20, time.Minute)
	if b, err := readAll(st, "ok", "a.img", 0); err != nil || string(b) != "alpha" {
		t.Errorf("ok/a.img: %q %v", b, err)
	}
	for _, id := range []string{"truncated", "missing", "imgdir"} {
		if _, err := readAll(st, id, "a.img", 0); !errors.Is(err, remoteimg.ErrCorrupt) {
			t.Errorf("%s/a.img: %v", id, err)
		}
	}
	for _, id := range []string{"corrupt", "unreadable"} {
		if _, err := readAll(st, id, "a.img", 0); !errors.Is(err, remoteimg.ErrNotExist) {
			t.Errorf("%s: %v", id, err)
		}
		if _, _, err := st.put(9, &remoteimg.Put{Snapshot: id, Name: "a.img"}); !errors.Is(err, remoteimg.ErrExist) {
			t.Errorf("put over %s: %v", id, err)
		}
	}
	if si, _ := snapInfo(st, "unfinished"); si.Finished || si.Held || si.Images != 2 || si.Bytes != 7 {
		t.Errorf("unfinished: %+v", si)
	}
	st.close()
	if got := openFDs(t); got != before {
		t.Fatalf("%d fds open after close, %d before", got, before)
	}
}

// The disk's failures while a snapshot arrives (a commit's rename, the
// Finish's journal, the Confirm's line) fail what they must and leave no
// fd open.
func TestStoreDiskErrorsLeaveNoFD(t *testing.T) {
	dir := t.TempDir()
	before := openFDs(t)
	st := testStore(t, dir, 64<<20, time.Minute)
	snapDir := func(id string) string { return filepath.Join(dir, "snapshots", id) }

	// The part file gone before its commit: the rename fails.
	img, _, err := st.put(1, &remoteimg.Put{Snapshot: "c", Name: "a.img"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.write(context.Background(), img, 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(img.path); err != nil {
		t.Fatal(err)
	}
	if err := st.commit(img, 3, crcOf([]byte("abc"))); err == nil || !strings.HasPrefix(err.Error(), "image a.img: store: ") {
		t.Fatalf("commit without its part file: %v", err)
	}
	if img.state != failed || img.file != nil {
		t.Fatalf("after a failed commit: state %d, file %v", img.state, img.file)
	}

	// The Finish's new journal cannot be written: the snapshot is given up.
	send(t, st, 2, "f", "a.img", []byte("x"))
	if err := os.MkdirAll(filepath.Join(snapDir("f"), ".journal.new", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	err = st.finish(&remoteimg.Finish{Snapshot: "f", Images: manifest(map[string][]byte{"a.img": []byte("x")})})
	if err == nil || !strings.HasPrefix(err.Error(), "snapshot f: journal: ") {
		t.Fatalf("finish with its journal blocked: %v", err)
	}
	if _, rerr := readAll(st, "f", "a.img", 0); rerr == nil || rerr.Error() != err.Error() {
		t.Fatalf("get of the snapshot whose finish failed: %v", rerr)
	}
	if _, err := os.Stat(snapDir("f")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("given up snapshot's directory: %v", err)
	}

	// The journal gone before the Confirm: its line cannot be appended.
	late := []byte("stats")
	send(t, st, 3, "l", "a.img", []byte("y"))
	if err := st.finish(&remoteimg.Finish{Snapshot: "l", Images: manifest(map[string][]byte{"a.img": []byte("y")})}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(snapDir("l"), ".journal")); err != nil {
		t.Fatal(err)
	}
	err = st.confirm(4, &remoteimg.Confirm{Snapshot: "l", Name: remoteimg.LateImage, Bytes: late, CRC: crcOf(late)})
	if err == nil || !strings.HasPrefix(err.Error(), "snapshot l: journal: ") {
		t.Fatalf("confirm without a journal: %v", err)
	}
	if si, _ := snapInfo(st, "l"); !si.Held || si.Finished {
		t.Fatalf("after a failed confirm: %+v", si)
	}
	st.close()
	if got := openFDs(t); got != before {
		t.Fatalf("%d fds open after close, %d before", got, before)
	}
}
