package imgproxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

var sizes = []int{0, 1, 4096, 3 * 4096, remoteimg.MaxChunk, remoteimg.MaxChunk + 1, 1<<20 + 13}

// TestRoundTrip: images of awkward sizes (zero, page multiples, chunk
// edges) go through proxy and cache; Finish right after the last image;
// everything reads back; a missing image is ENOENT; List and Release work.
func TestRoundTrip(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	w := r.writer("snap1", "")
	want := map[string][]byte{}
	for i, n := range sizes {
		name := fmt.Sprintf("img-%d.img", i)
		want[name] = content(uint64(i), n)
		if err := put(ctx, w, name, want[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	rd := r.reader("snap1")
	for name, b := range want {
		mustGet(t, rd, name, b)
		mustGet(t, rd, name, b) // re-read
	}
	if _, err := rd.Open(ctx, "nope.img"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing image: %v, want ErrNotExist", err)
	}
	snaps, err := remote.ListSnapshots(ctx, r.cacheSock)
	if err != nil || len(snaps) != 1 || !snaps[0].Finished || snaps[0].Images != uint32(len(sizes)) {
		t.Fatalf("list: %+v %v", snaps, err)
	}
	if err := rd.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.readerWait("snap1", 0).Open(ctx, "img-1.img"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after release: %v, want ErrNotExist", err)
	}
}

// TestEmptySnapshot: a snapshot with no image finishes.
func TestEmptySnapshot(t *testing.T) {
	r := newRig(t, rigOpts{})
	if err := r.writer("empty", "").Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestReadWhileArriving: a reader opens an image before it exists and
// gets bytes before the writer has committed; then EOF only at the end.
func TestReadWhileArriving(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	w := r.writer("s", "")
	data := content(7, 3<<20)
	rd := r.readerWait("s", 10*time.Second)
	opened := make(chan io.ReadCloser, 1)
	errc := make(chan error, 1)
	go func() {
		rc, err := rd.Open(ctx, "pages-1.img")
		if err != nil {
			errc <- err
			return
		}
		opened <- rc
	}()
	iw, err := w.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iw.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	var rc io.ReadCloser
	select {
	case rc = <-opened:
	case err := <-errc:
		t.Fatal(err)
	}
	defer rc.Close()
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatalf("read first MiB while arriving: %v", err)
	}
	if !bytes.Equal(first, data[:1<<20]) {
		t.Fatal("first MiB differs")
	}
	if _, err := iw.Write(data[1<<20:]); err != nil {
		t.Fatal(err)
	}
	if err := iw.Close(); err != nil {
		t.Fatal(err)
	}
	// The image is whole to a reader (EOF) only once its dump has
	// confirmed the snapshot (Finish, two-phase).
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(rest, data[1<<20:]) {
		t.Fatalf("rest: %d bytes, %v", len(rest), err)
	}
}

// TestNeverArrivesIsENOENT: a reader waiting for an image that is not in
// the snapshot gets ENOENT once the snapshot is finished.
func TestNeverArrivesIsENOENT(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	w := r.writer("s", "")
	if err := put(ctx, w, "a.img", []byte("a")); err != nil {
		t.Fatal(err)
	}
	rd := r.reader("s")
	errc := make(chan error, 1)
	go func() { _, err := rd.Open(ctx, "ghost.img"); errc <- err }()
	// The Open must still be waiting: the snapshot is not finished.
	select {
	case err := <-errc:
		t.Fatalf("Open returned before Finish: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want ErrNotExist", err)
	}
}

// TestUnknownSnapshot: reading a snapshot the cache never heard of is
// ENOENT (after WaitSnapshot).
func TestUnknownSnapshot(t *testing.T) {
	r := newRig(t, rigOpts{})
	st, err := remote.Dial(context.Background(), r.cacheSock, remote.Options{Snapshot: "nosuch", Mode: remote.ModeRead, WaitSnapshot: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Open(context.Background(), "core-1.img"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want ErrNotExist", err)
	}
	if err := st.Release(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("release: %v", err)
	}
}

// TestTruncatedNeverComplete: a writer that dies mid-image leaves no
// complete image: its reader gets an error, not EOF, and Finish without
// it still reports ENOENT for it.
func TestTruncatedNeverComplete(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	w := r.writer("s", "")
	rd := r.reader("s")
	iw, err := w.Create(ctx, "cut.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iw.Write(content(1, 600<<10)); err != nil {
		t.Fatal(err)
	}
	rc, err := rd.Open(ctx, "cut.img")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := make([]byte, 100)
	if _, err := io.ReadFull(rc, got); err != nil {
		t.Fatal(err)
	}
	iw.Abort() // the writer gives up (like a dump that died)
	_, err = io.ReadAll(rc)
	if err == nil || !errors.Is(err, remoteimg.ErrAborted) {
		t.Fatalf("reader of an aborted image: %v, want ErrAborted", err)
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Open(ctx, "cut.img"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after finish: %v", err)
	}
}

// TestCommitSizeMismatch: a writer committing a wrong size gets
// ErrTruncated from the proxy, and the image is not in the snapshot.
func TestCommitSizeMismatch(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	c, err := remote.DialUnix(ctx, r.proxySock, remoteimg.RoleWriter)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(m remoteimg.Msg) remoteimg.Result {
		t.Helper()
		if err := c.W.WriteMsg(1, m); err != nil {
			t.Fatal(err)
		}
		_, rm, err := c.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		return *rm.(*remoteimg.Result)
	}
	if res := send(&remoteimg.Put{Snapshot: "s", Name: "x.img"}); res.Code != remoteimg.CodeOK {
		t.Fatal(res)
	}
	c.W.WriteData(1, 0, []byte("hello"))
	if res := send(&remoteimg.Commit{Size: 10, CRC: 0}); res.Code != remoteimg.CodeTruncated {
		t.Fatalf("commit with wrong size: %+v", res)
	}
}

// TestReconnect: the TCP leg is cut several times during a snapshot; the
// proxy reconnects and resumes, and every image arrives exactly once.
func TestReconnect(t *testing.T) {
	r := newRig(t, rigOpts{mitm: true, proxyMem: 2 << 20})
	ctx := context.Background()
	w := r.writer("s", "")
	want := map[string][]byte{}
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("pages-%d.img", i)
		want[name] = content(uint64(100+i), (i*397)<<10+i)
		if i%3 == 0 {
			r.mitm.CutAt(int64(700<<10 + i*1000))
		}
		if err := put(ctx, w, name, want[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	cuts := r.mitm.Cuts()
	if cuts < 2 {
		t.Fatalf("only %d cuts happened", cuts)
	}
	rd := r.reader("s")
	for name, b := range want {
		mustGet(t, rd, name, b)
	}
	snaps, _ := remote.ListSnapshots(ctx, r.cacheSock)
	var total uint64
	for _, b := range want {
		total += uint64(len(b))
	}
	if len(snaps) != 1 || snaps[0].Bytes != total || snaps[0].Images != uint32(len(want)) {
		t.Fatalf("cache holds %+v, want %d images %d bytes", snaps, len(want), total)
	}
	t.Logf("%d cuts", cuts)
}

// TestCorruptInFlight: a byte flipped on the TCP leg is caught by the
// checksum: Finish fails with ErrCorrupt and no reader sees the image.
func TestCorruptInFlight(t *testing.T) {
	r := newRig(t, rigOpts{mitm: true})
	ctx := context.Background()
	data := content(3, 200<<10)
	marker := []byte("<<<<MARKER-TO-CORRUPT-0123456789>>>>")
	copy(data[100<<10:], marker)
	r.mitm.Corrupt(marker)
	w := r.writer("s", "")
	if err := put(ctx, w, "bad.img", data); err != nil {
		t.Fatal(err) // the proxy got it intact
	}
	err := w.Finish(ctx)
	if !errors.Is(err, remoteimg.ErrCorrupt) {
		t.Fatalf("Finish: %v, want ErrCorrupt", err)
	}
	t.Logf("Finish said: %v", err)
}

// TestCacheDownFinishFails: when the cache goes away for good, Finish
// fails with ErrUnavailable after the reconnect timeout, never succeeds.
func TestCacheDownFinishFails(t *testing.T) {
	r := newRig(t, rigOpts{reconnect: 300 * time.Millisecond})
	ctx := context.Background()
	w := r.writer("s", "")
	if err := put(ctx, w, "a.img", content(1, 10000)); err != nil {
		t.Fatal(err)
	}
	r.stopCache()
	if err := put(ctx, w, "b.img", content(2, 10000)); err != nil {
		t.Fatal(err)
	}
	err := w.Finish(ctx)
	// Or the cache's own refusal: on a loaded machine the proxy may hand
	// it a.img only once its shutdown has begun, and the cache says so.
	if !errors.Is(err, remoteimg.ErrUnavailable) && !errors.Is(err, remoteimg.ErrShutdown) {
		t.Fatalf("Finish with the cache gone: %v, want ErrUnavailable (or ErrShutdown)", err)
	}
}

// TestCacheKilledMidRead: a reader of an arriving image whose cache dies
// gets an error, not EOF.
func TestCacheKilledMidRead(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	w := r.writer("s", "")
	iw, err := w.Create(ctx, "p.img")
	if err != nil {
		t.Fatal(err)
	}
	iw.Write(content(1, 300<<10))
	rc, err := r.reader("s").Open(ctx, "p.img")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	r.stopCache()
	_, err = io.ReadAll(rc)
	if err == nil {
		t.Fatal("reader got EOF from a dead cache")
	}
	t.Logf("reader: %v", err)
	iw.Abort()
}

// TestManyInFlight: 200 images written concurrently, multiplexed on one
// TCP connection with a small proxy budget.
func TestManyInFlight(t *testing.T) {
	r := newRig(t, rigOpts{proxyMem: 4 << 20})
	ctx := context.Background()
	w := r.writer("s", "")
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- put(ctx, w, fmt.Sprintf("core-%d.img", i), content(uint64(i), i*1531))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	rd := r.reader("s")
	for i := 0; i < 200; i += 7 {
		mustGet(t, rd, fmt.Sprintf("core-%d.img", i), content(uint64(i), i*1531))
	}
}

// TestFourSnapshots: four snapshots (a pre-dump chain and two others)
// in flight at once, with readers of each.
func TestFourSnapshots(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for s := 0; s < 4; s++ {
		wg.Add(2)
		id := fmt.Sprintf("snap-%d", s)
		parent := ""
		if s > 0 {
			parent = fmt.Sprintf("snap-%d", s-1)
		}
		go func() {
			defer wg.Done()
			w := r.writer(id, parent)
			for i := 0; i < 5; i++ {
				if err := put(ctx, w, fmt.Sprintf("pages-%d.img", i), content(uint64(s*10+i), 200<<10+i)); err != nil {
					errs <- err
					return
				}
			}
			errs <- w.Finish(ctx)
		}()
		go func() {
			defer wg.Done()
			st, err := remote.Dial(ctx, r.cacheSock, remote.Options{Snapshot: id, Mode: remote.ModeRead, WaitSnapshot: 10 * time.Second})
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < 5; i++ {
				got, err := get(ctx, st, fmt.Sprintf("pages-%d.img", i))
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, content(uint64(s*10+i), 200<<10+i)) {
					errs <- fmt.Errorf("%s pages-%d differs", id, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := remote.ListSnapshots(ctx, r.cacheSock)
	if err != nil || len(snaps) != 4 {
		t.Fatalf("%+v %v", snaps, err)
	}
	for _, s := range snaps {
		if s.ID != "snap-0" && s.Parent == "" {
			t.Fatalf("parent lost: %+v", s)
		}
	}
}

// TestSlowReader: a reader slower than the writer still gets every byte;
// the writer is not held back by it (it finishes first).
func TestSlowReader(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	w := r.writer("s", "")
	data := content(9, 4<<20)
	rc, err := func() (io.ReadCloser, error) {
		iw, err := w.Create(ctx, "p.img")
		if err != nil {
			return nil, err
		}
		iw.Write(data[:1000])
		rc, err := r.readerWait("s", 10*time.Second).Open(ctx, "p.img")
		if err != nil {
			return nil, err
		}
		iw.Write(data[1000:])
		return rc, iw.Close()
	}()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 64<<10)
	for i := 0; ; i++ {
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%8 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("slow reader got other bytes")
	}
}

// TestCacheRestartWithDir: a finished snapshot kept under -D is served by
// a new cache process on the same directory; an unfinished one resumes.
func TestCacheRestartWithDir(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, rigOpts{cacheDir: dir, keep: true})
	ctx := context.Background()
	w := r.writer("s", "")
	want := map[string][]byte{}
	for i, n := range sizes {
		name := fmt.Sprintf("img-%d.img", i)
		want[name] = content(uint64(i), n)
		if err := put(ctx, w, name, want[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	r.stopCache()
	r.cacheSockRestart(rigOpts{cacheDir: dir})
	rd := r.reader("s")
	for name, b := range want {
		mustGet(t, rd, name, b)
	}
	if _, err := rd.Open(ctx, "nope.img"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%v", err)
	}
	// Release frees it, on disk too.
	if err := rd.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
