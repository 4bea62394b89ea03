package imgcache

// Unit tests of the store's state machine, in memory (no directory):
// snapshots and images through put, write, commit, finish, confirm,
// get, read and release, and the refusals between them.

import (
	"context"
	"errors"
	"hash/crc32"
	"testing"
	"time"

	"github.com/criugo/criu/remoteimg"
	"github.com/rs/zerolog"
)

func testStore(t *testing.T, dir string, maxMem int64, resumeTTL time.Duration) *store {
	t.Helper()
	st, err := newStore(dir, maxMem, false, resumeTTL, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.close)
	return st
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, remoteimg.Castagnoli()) }

// send puts, writes and commits image name of snapshot id as transfer xfer.
func send(t *testing.T, st *store, xfer uint64, id, name string, data []byte) *image {
	t.Helper()
	img, _, err := st.put(xfer, &remoteimg.Put{Snapshot: id, Name: name})
	if err != nil {
		t.Fatalf("put %s/%s: %v", id, name, err)
	}
	if n, err := st.write(context.Background(), img, 0, append([]byte(nil), data...)); err != nil || n != uint64(len(data)) {
		t.Fatalf("write %s/%s: %d %v", id, name, n, err)
	}
	if err := st.commit(img, uint64(len(data)), crcOf(data)); err != nil {
		t.Fatalf("commit %s/%s: %v", id, name, err)
	}
	return img
}

func manifest(imgs map[string][]byte) []remoteimg.ImageInfo {
	var m []remoteimg.ImageInfo
	for name, b := range imgs {
		m = append(m, remoteimg.ImageInfo{Name: name, Size: uint64(len(b)), CRC: crcOf(b)})
	}
	return m
}

// readAll gets image name of snapshot id and reads it to its End.
func readAll(st *store, id, name string, wait time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	img, err := st.get(ctx, id, name, wait)
	if err != nil {
		return nil, err
	}
	defer st.unref(img)
	if err := st.verify(img); err != nil {
		return nil, err
	}
	var out []byte
	var cur cursor
	for {
		b, end, size, crc, err := st.read(ctx, img, &cur)
		if err != nil {
			return out, err
		}
		out = append(out, b...)
		if end {
			if size != uint64(len(out)) || crc != crcOf(out) {
				return out, errors.New("End does not match the bytes read")
			}
			return out, nil
		}
	}
}

func snapInfo(st *store, id string) (remoteimg.SnapshotInfo, bool) {
	for _, si := range st.list() {
		if si.ID == id {
			return si, true
		}
	}
	return remoteimg.SnapshotInfo{}, false
}

// A snapshot goes arriving -> held (Finish) -> served (Confirm) ->
// freed (Release); List says which.
func TestStoreLifecycle(t *testing.T) {
	st := testStore(t, "", 64<<20, time.Minute)
	imgs := map[string][]byte{"a.img": []byte("alpha"), "b.img": []byte("bravo bravo")}
	send(t, st, 1, "s1", "a.img", imgs["a.img"])
	send(t, st, 2, "s1", "b.img", imgs["b.img"])
	if si, _ := snapInfo(st, "s1"); si.Finished || si.Held || si.Images != 2 || si.Bytes != 16 {
		t.Fatalf("arriving: %+v", si)
	}
	// An image complete in an arriving snapshot is served whole.
	if b, err := readAll(st, "s1", "a.img", 0); err != nil || string(b) != "alpha" {
		t.Fatalf("read while arriving: %q %v", b, err)
	}
	if err := st.finish(&remoteimg.Finish{Snapshot: "s1", Images: manifest(imgs)}); err != nil {
		t.Fatal(err)
	}
	if si, _ := snapInfo(st, "s1"); si.Finished || !si.Held {
		t.Fatalf("held: %+v", si)
	}
	// Finish is idempotent; another manifest is refused.
	if err := st.finish(&remoteimg.Finish{Snapshot: "s1", Images: manifest(imgs)}); err != nil {
		t.Fatalf("finish again: %v", err)
	}
	if err := st.finish(&remoteimg.Finish{Snapshot: "s1"}); !errors.Is(err, remoteimg.ErrIncomplete) {
		t.Fatalf("finish with another manifest: %v", err)
	}
	// Held: a read does not reach End before the Confirm.
	got := make(chan error, 1)
	go func() {
		b, err := readAll(st, "s1", "b.img", 0)
		if err == nil && string(b) != "bravo bravo" {
			err = errors.New("wrong bytes " + string(b))
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("read of a held snapshot ended before its Confirm: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	late := []byte("stats")
	if err := st.confirm(9, &remoteimg.Confirm{Snapshot: "s1", Name: remoteimg.LateImage, Bytes: late, CRC: crcOf(late)}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if b, err := readAll(st, "s1", remoteimg.LateImage, 0); err != nil || string(b) != "stats" {
		t.Fatalf("late image: %q %v", b, err)
	}
	if si, _ := snapInfo(st, "s1"); !si.Finished || si.Held || si.Images != 3 {
		t.Fatalf("confirmed: %+v", si)
	}
	// Confirm is idempotent.
	if err := st.confirm(9, &remoteimg.Confirm{Snapshot: "s1", Name: remoteimg.LateImage, Bytes: late, CRC: crcOf(late)}); err != nil {
		t.Fatalf("confirm again: %v", err)
	}
	if _, err := readAll(st, "s1", "c.img", 0); !errors.Is(err, remoteimg.ErrNotExist) {
		t.Fatalf("image not in the snapshot: %v", err)
	}
	if err := st.release("s1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := snapInfo(st, "s1"); ok {
		t.Fatal("released snapshot still listed")
	}
	if st.memUsed != 0 {
		t.Fatalf("released, %d bytes still charged", st.memUsed)
	}
	if _, err := readAll(st, "s1", "a.img", 0); !errors.Is(err, remoteimg.ErrNotExist) {
		t.Fatalf("get after release: %v", err)
	}
}

// A commit that does not match what arrived fails the image, which
// leaves its snapshot; the Finish naming it is refused and gives the
// snapshot up, and its Gets answer that error.
func TestStoreCommitMismatch(t *testing.T) {
	st := testStore(t, "", 64<<20, time.Minute)
	ctx := context.Background()
	for _, tc := range []struct {
		size uint64
		crc  uint32
		want error
	}{{4, crcOf([]byte("data")), remoteimg.ErrTruncated}, {5, 1, remoteimg.ErrCorrupt}} {
		img, _, err := st.put(1, &remoteimg.Put{Snapshot: "s", Name: "x.img"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.write(ctx, img, 0, []byte("data!")); err != nil {
			t.Fatal(err)
		}
		if err := st.commit(img, tc.size, tc.crc); !errors.Is(err, tc.want) {
			t.Fatalf("commit %d %08x: %v, want %v", tc.size, tc.crc, err, tc.want)
		}
		if _, err := st.write(ctx, img, 5, []byte("more")); !errors.Is(err, tc.want) {
			t.Fatalf("write after a failed commit: %v", err)
		}
		if si, _ := snapInfo(st, "s"); si.Images != 0 {
			t.Fatalf("failed image still in its snapshot: %+v", si)
		}
		st.mu.Lock()
		delete(st.snaps["s"].xfers, 1) // the next round reuses the transfer id
		st.mu.Unlock()
	}
	err := st.finish(&remoteimg.Finish{Snapshot: "s", Images: manifest(map[string][]byte{"x.img": []byte("data!")})})
	if !errors.Is(err, remoteimg.ErrIncomplete) {
		t.Fatalf("finish: %v", err)
	}
	if _, err := readAll(st, "s", "x.img", 0); !errors.Is(err, remoteimg.ErrIncomplete) {
		t.Fatalf("get of the given up snapshot: %v", err)
	}
	if _, ok := snapInfo(st, "s"); ok {
		t.Fatal("a tombstone is listed")
	}
}

// Resent bytes are skipped, a gap is refused, a commit twice is fine
// with the same content only.
func TestStoreWriteResend(t *testing.T) {
	st := testStore(t, "", 64<<20, time.Minute)
	ctx := context.Background()
	img, _, err := st.put(1, &remoteimg.Put{Snapshot: "s", Name: "x.img"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		off  uint64
		data string
		n    uint64
	}{{0, "abc", 3}, {1, "bcdef", 6}, {0, "ab", 6}} {
		if n, err := st.write(ctx, img, w.off, []byte(w.data)); err != nil || n != w.n {
			t.Fatalf("write %d %q: %d %v, want %d", w.off, w.data, n, err, w.n)
		}
	}
	if _, err := st.write(ctx, img, 9, []byte("x")); !errors.Is(err, remoteimg.ErrAborted) {
		t.Fatalf("write past the end: %v", err)
	}
	if err := st.commit(img, 6, crcOf([]byte("abcdef"))); err != nil {
		t.Fatal(err)
	}
	if err := st.commit(img, 6, crcOf([]byte("abcdef"))); err != nil {
		t.Fatalf("commit twice: %v", err)
	}
	if err := st.commit(img, 6, 7); !errors.Is(err, remoteimg.ErrCorrupt) {
		t.Fatalf("commit twice, other content: %v", err)
	}
	// The same transfer id resumes the same image.
	again, _, err := st.put(1, &remoteimg.Put{Snapshot: "s", Name: "x.img"})
	if err != nil || again != img {
		t.Fatalf("resume: %p %v, want %p", again, err, img)
	}
}

// What a new dump under an id may do to the snapshot held there.
func TestStoreReplace(t *testing.T) {
	st := testStore(t, "", 64<<20, time.Minute)
	a := map[string][]byte{"a.img": []byte("one")}
	send(t, st, 1, "s", "a.img", a["a.img"])
	// A new attempt (a name the snapshot has) replaces the image by name.
	old := st.snaps["s"].images["a.img"]
	two := send(t, st, 2, "s", "a.img", []byte("two"))
	if st.snaps["s"].images["a.img"] != two || !old.dropped {
		t.Fatal("image not replaced by name")
	}
	// Held but never confirmed (its dump failed): replaced whole.
	if err := st.finish(&remoteimg.Finish{Snapshot: "s", Images: manifest(map[string][]byte{"a.img": []byte("two")})}); err != nil {
		t.Fatal(err)
	}
	held := st.snaps["s"]
	send(t, st, 3, "s", "b.img", []byte("three"))
	if st.snaps["s"] == held || !errors.Is(held.abandoned, remoteimg.ErrNotExist) || !two.dropped {
		t.Fatalf("held generation not replaced whole: %v", held.abandoned)
	}
	if err := st.finish(&remoteimg.Finish{Snapshot: "s", Images: manifest(map[string][]byte{"b.img": []byte("three")})}); err != nil {
		t.Fatal(err)
	}
	if err := st.confirm(4, &remoteimg.Confirm{Snapshot: "s"}); err != nil {
		t.Fatal(err)
	}
	// Confirmed and never released: a new writer is refused.
	if _, _, err := st.put(5, &remoteimg.Put{Snapshot: "s", Name: "c.img"}); !errors.Is(err, remoteimg.ErrExist) {
		t.Fatalf("put over a confirmed snapshot: %v", err)
	}
	// Draining: no new snapshot, and in memory no Finish either.
	st.setDraining()
	if _, _, err := st.put(6, &remoteimg.Put{Snapshot: "t", Name: "a.img"}); !errors.Is(err, remoteimg.ErrShutdown) {
		t.Fatalf("put while draining: %v", err)
	}
	if err := st.finish(&remoteimg.Finish{Snapshot: "u"}); !errors.Is(err, remoteimg.ErrShutdown) {
		t.Fatalf("finish while draining in memory: %v", err)
	}
}

// A new attempt under an id a restore reads gives the old attempt up
// (its reader fails) and is refused.
func TestStoreReaderOneGeneration(t *testing.T) {
	st := testStore(t, "", 64<<20, time.Minute)
	send(t, st, 1, "s", "a.img", []byte("one"))
	ctx := context.Background()
	img, err := st.get(ctx, "s", "a.img", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.put(2, &remoteimg.Put{Snapshot: "s", Name: "a.img"}); !errors.Is(err, remoteimg.ErrExist) {
		t.Fatalf("new attempt while read: %v", err)
	}
	st.unref(img)
	if _, err := readAll(st, "s", "a.img", 0); !errors.Is(err, remoteimg.ErrAborted) {
		t.Fatalf("get of the given up attempt: %v", err)
	}
}

// Without a directory, bytes past MaxMemory drop their snapshot at
// once (never a wait), and the others stay.
func TestStoreOverflow(t *testing.T) {
	st := testStore(t, "", 1<<20, time.Minute)
	send(t, st, 1, "small", "a.img", make([]byte, 600<<10))
	img, _, err := st.put(2, &remoteimg.Put{Snapshot: "big", Name: "a.img"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.write(context.Background(), img, 0, make([]byte, 600<<10)); !errors.Is(err, remoteimg.ErrNoSpace) {
		t.Fatalf("write past MaxMemory: %v", err)
	}
	if _, err := readAll(st, "big", "a.img", 0); !errors.Is(err, remoteimg.ErrNoSpace) {
		t.Fatalf("get of the dropped snapshot: %v", err)
	}
	if b, err := readAll(st, "small", "a.img", 0); err != nil || len(b) != 600<<10 {
		t.Fatalf("the other snapshot: %d %v", len(b), err)
	}
	if st.memUsed != 600<<10 {
		t.Fatalf("%d bytes charged, want the small snapshot's", st.memUsed)
	}
}

// Release frees a chain from the restored snapshot up, keeping a
// parent while another snapshot builds on it.
func TestStoreReleaseChain(t *testing.T) {
	st := testStore(t, "", 64<<20, time.Minute)
	for i, sp := range [][2]string{{"p", ""}, {"c1", "p"}, {"c2", "p"}} {
		img, _, err := st.put(uint64(10+i), &remoteimg.Put{Snapshot: sp[0], Parent: sp[1], Name: "a.img"})
		if err != nil {
			t.Fatal(err)
		}
		st.abort(img)
		if err := st.finish(&remoteimg.Finish{Snapshot: sp[0], Parent: sp[1]}); err != nil {
			t.Fatal(err)
		}
		if err := st.confirm(uint64(20+i), &remoteimg.Confirm{Snapshot: sp[0]}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() (s string) {
		for _, si := range st.list() {
			s += si.ID + " "
		}
		return s
	}
	if err := st.release("c1"); err != nil {
		t.Fatal(err)
	}
	if got := ids(); got != "c2 p " {
		t.Fatalf("after releasing c1: %q", got)
	}
	if err := st.release("c2"); err != nil {
		t.Fatal(err)
	}
	if got := ids(); got != "" {
		t.Fatalf("after releasing c2: %q", got)
	}
	if err := st.release("c2"); !errors.Is(err, remoteimg.ErrNotExist) {
		t.Fatalf("release twice: %v", err)
	}
}

// The janitor gives up an unfinished snapshot nothing happened to, and
// a held one its dump never confirmed, then forgets the tombstones.
func TestStoreJanitor(t *testing.T) {
	st := testStore(t, "", 64<<20, 50*time.Millisecond)
	send(t, st, 1, "idle", "a.img", []byte("x"))
	send(t, st, 2, "held", "a.img", []byte("y"))
	if err := st.finish(&remoteimg.Finish{Snapshot: "held", Images: manifest(map[string][]byte{"a.img": []byte("y")})}); err != nil {
		t.Fatal(err)
	}
	idle, held := st.snaps["idle"], st.snaps["held"]
	deadline := time.Now().Add(5 * time.Second)
	read := false
	for {
		st.mu.Lock()
		n, given := len(st.snaps), idle.abandoned != nil && held.abandoned != nil
		st.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tombstones never forgotten", n)
		}
		if given && !read {
			// A tombstone answers its error (and a read puts off its end).
			if _, err := readAll(st, "idle", "a.img", 0); !errors.Is(err, remoteimg.ErrAborted) && !errors.Is(err, remoteimg.ErrNotExist) {
				t.Fatalf("get of the given up snapshot: %v", err)
			}
			read = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(idle.abandoned, remoteimg.ErrAborted) || !errors.Is(held.abandoned, remoteimg.ErrAborted) {
		t.Fatalf("given up with %v, %v", idle.abandoned, held.abandoned)
	}
	if st.memUsed != 0 {
		t.Fatalf("%d bytes still charged", st.memUsed)
	}
}
