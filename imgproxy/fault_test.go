package imgproxy_test

// Fault tests of the remote path (issue 12), with the real proxy and
// cache on real sockets: the dump's outcome and the snapshot's state
// agree (two-phase finish), and no reader waits without bound.

import (
	"context"
	"errors"
	"hash/crc32"

	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// manifest is what Store.Finish sends for these images.
func manifest(imgs map[string][]byte) []remoteimg.ImageInfo {
	var out []remoteimg.ImageInfo
	for name, b := range imgs {
		out = append(out, remoteimg.ImageInfo{Name: name, Size: uint64(len(b)), CRC: crc32.Checksum(b, remoteimg.Castagnoli())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// snapState is the cache's view of snapshot id: "none", "arriving",
// "held" or "finished".
func snapState(t *testing.T, r *rig, id string) string {
	t.Helper()
	snaps, err := remote.ListSnapshots(context.Background(), r.cacheSock)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if s.ID == id {
			switch {
			case s.Finished:
				return "finished"
			case s.Held:
				return "held"
			}
			return "arriving"
		}
	}
	return "none"
}

// readAll reads every image of imgs from snapshot id, each with the
// reader's bound wait, and returns the first error.
func readAll(r *rig, id string, imgs map[string][]byte, wait time.Duration) error {
	rd := r.readerWait(id, wait)
	for name := range imgs {
		if _, err := get(context.Background(), rd, name); err != nil {
			return err
		}
	}
	return nil
}

// TestFinishAnswerLostNotServed: the proxy dies right after it forwarded
// Finish (the relay delivers the Finish to the cache, then cuts the link
// and refuses the proxy's redials). The dump's Finish fails, so its tasks
// resume; the cache must then never serve the snapshot: a restore gets
// an error (not the images), and the held snapshot is dropped after the
// resume timeout. Before the two-phase finish the cache served it: two
// live copies.
func TestFinishAnswerLostNotServed(t *testing.T) {
	r := newRig(t, rigOpts{mitm: true, reconnect: time.Second, resume: 2 * time.Second})
	ctx := context.Background()
	w := r.writer("lost-answer", "")
	imgs := map[string][]byte{"core-1.img": content(1, 5000), "pages-1.img": content(2, 3<<20), "empty.img": nil}
	for name, b := range imgs {
		if err := put(ctx, w, name, b); err != nil {
			t.Fatal(err)
		}
	}
	fin := (&remoteimg.Finish{Snapshot: "lost-answer", Images: manifest(imgs)}).Append(nil)
	r.mitm.CutAfterMarker(fin)
	err := w.Finish(ctx)
	if err == nil {
		t.Fatal("Finish succeeded although the proxy never got the cache's answer")
	}
	t.Logf("dump sees: %v", err)
	if st := snapState(t, r, "lost-answer"); st == "finished" {
		t.Fatal("the cache serves the snapshot of a dump that failed")
	}
	rerr := readAll(r, "lost-answer", imgs, 500*time.Millisecond)
	if rerr == nil {
		t.Fatal("restore read every image of the snapshot of a failed dump")
	}
	t.Logf("restore sees: %v", rerr)
	// The held snapshot goes after the resume timeout.
	deadline := time.Now().Add(10 * time.Second)
	for snapState(t, r, "lost-answer") != "none" {
		if time.Now().After(deadline) {
			t.Fatalf("snapshot still %s 10s after the failed dump", snapState(t, r, "lost-answer"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProxyDrainAnswersFinish: the proxy gets SIGTERM (Shutdown) while a
// dump's Finish waits for an image still being written. Whatever the
// dump is told must be the truth: here the drain lets the Finish (and
// the dump's Confirm) through and answers it, and the snapshot is
// served. Before, the drain closed the writer's connection before the
// answer: the dump failed and resumed its tasks while the cache served
// the snapshot.
func TestProxyDrainAnswersFinish(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	imgs := map[string][]byte{"core-1.img": content(3, 7000)}
	w := r.writer("drained", "")
	if err := put(ctx, w, "core-1.img", imgs["core-1.img"]); err != nil {
		t.Fatal(err)
	}
	// Another connection of the same snapshot holds an image open: the
	// proxy's Finish waits for it.
	other := r.writer("drained", "")
	late, err := other.Create(ctx, "late.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := late.Write(content(4, 10000)); err != nil {
		t.Fatal(err)
	}
	finErr := make(chan error, 1)
	go func() { finErr <- w.Finish(ctx) }()
	time.Sleep(200 * time.Millisecond) // the Finish waits at the proxy
	drained := make(chan error, 1)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		drained <- r.proxy.Shutdown(sctx)
	}()
	time.Sleep(200 * time.Millisecond) // the drain has started
	if err := late.Close(); err != nil {
		t.Fatalf("image in flight during the drain: %v", err)
	}
	err = <-finErr
	served := readAll(r, "drained", imgs, time.Second) == nil
	t.Logf("Finish during the drain: %v; snapshot served: %v", err, served)
	if (err == nil) != served {
		t.Fatalf("the dump was told %v but the cache serving it is %v", err, served)
	}
	if err != nil {
		t.Fatalf("a drain must answer the Finish it lets through: %v", err)
	}
	if err := <-drained; err != nil {
		t.Fatalf("drain: %v", err)
	}
}

// TestRestoreOfUnfinishedWaitsBounded: the proxy stays connected and the
// dump neither writes on nor finishes (it failed, or is stuck). A
// restore waits at most its bound (--remote-wait) for an image that is
// not there yet and for the rest of an image that stopped arriving, and
// the error says what it waited for. (An image complete in an arriving
// snapshot is served whole, so restore can run while its dump does.)
func TestRestoreOfUnfinishedWaitsBounded(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	w := r.writer("stuck", "")
	if err := put(ctx, w, "core-1.img", content(5, 3000)); err != nil {
		t.Fatal(err)
	}
	iw, err := w.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iw.Write(content(6, 1<<20)); err != nil {
		t.Fatal(err)
	}
	defer iw.Abort()
	rd := r.readerWait("stuck", time.Second)
	for _, name := range []string{"pages-1.img", "mm-1.img"} {
		done := make(chan error, 1)
		start := time.Now()
		go func() { _, err := get(ctx, rd, name); done <- err }()
		select {
		case err := <-done:
			took := time.Since(start)
			t.Logf("%s after %v: %v", name, took.Round(time.Millisecond), err)
			if err == nil {
				t.Fatalf("%s of an unfinished snapshot read whole", name)
			}
			if !errors.Is(err, remoteimg.ErrUnavailable) || !strings.Contains(err.Error(), "--remote-wait") ||
				!strings.Contains(err.Error(), "arriving") {
				t.Fatalf("%s: error does not say what it waited for: %v", name, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("restore of %s of an unfinished snapshot still waits after 15s (bound 1s)", name)
		}
	}
}

// TestRefusedFinishNoPhantom: a Finish the cache refuses (its manifest
// names an image the cache does not hold) leaves no "arriving" snapshot
// behind that restores would wait on.
func TestRefusedFinishNoPhantom(t *testing.T) {
	r := newRig(t, rigOpts{resume: time.Hour})
	ctx := context.Background()
	c, err := remote.DialUnix(ctx, r.cacheSock, remoteimg.RoleProxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.W.WriteMsg(7, &remoteimg.Finish{Snapshot: "phantom",
		Images: []remoteimg.ImageInfo{{Name: "core-1.img", Size: 10, CRC: 1}}}); err != nil {
		t.Fatal(err)
	}
	_, m, err := c.ReadMsg()
	if err != nil {
		t.Fatal(err)
	}
	res, ok := m.(*remoteimg.Result)
	if !ok || remoteimg.ResultError(*res) == nil {
		t.Fatalf("cache accepted a Finish naming an image it never got: %+v", m)
	}
	if st := snapState(t, r, "phantom"); st != "none" {
		t.Fatalf("refused Finish left the snapshot %s", st)
	}
	done := make(chan error, 1)
	go func() { _, err := get(ctx, r.readerWait("phantom", 300*time.Millisecond), "core-1.img"); done <- err }()
	select {
	case err := <-done:
		// Not there, or a tombstone saying its Finish was refused.
		if err == nil || !(errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "refused")) {
			t.Fatalf("restore of the refused snapshot: %v, want it not served", err)
		}
		t.Logf("restore of the refused snapshot: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("restore of the refused snapshot waits")
	}
}

// TestSnapshotIDPerSourceHost: the default snapshot id of a -D carries
// the source host's tag, so two hosts dumping the same -D path no
// longer share an id (the second replaced the first's snapshot). A
// restore finds this host's snapshot, else the only one of any host,
// and refuses to guess between several.
func TestSnapshotIDPerSourceHost(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	d := filepath.Join(t.TempDir(), "ckpt")
	own := remoteimg.SnapshotID(d)
	other := remoteimg.SnapshotPrefix(d) + "-0badc0de" // as dumped by another host
	if own == other || !strings.HasPrefix(own, remoteimg.SnapshotPrefix(d)+"-"+remoteimg.HostTag()) {
		t.Fatalf("snapshot id %q has no host part", own)
	}
	for _, id := range []string{own, other} {
		w := r.writer(id, "")
		if err := put(ctx, w, "core-1.img", content(1, 100)); err != nil {
			t.Fatal(err)
		}
		if err := w.Finish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := snapState(t, r, own), snapState(t, r, other); a != "finished" || b != "finished" {
		t.Fatalf("the two hosts' snapshots: %s and %s, want both finished side by side", a, b)
	}
	if id, err := remote.ResolveSnapshot(ctx, r.cacheSock, d, 0); err != nil || id != own {
		t.Fatalf("resolve: %q %v, want this host's %q", id, err, own)
	}
	if err := r.reader(own).Release(ctx); err != nil {
		t.Fatal(err)
	}
	if id, err := remote.ResolveSnapshot(ctx, r.cacheSock, d, 0); err != nil || id != other {
		t.Fatalf("resolve: %q %v, want the only one, %q", id, err, other)
	}
	third := remoteimg.SnapshotPrefix(d) + "-12345678"
	if err := r.writer(third, "").Finish(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := remote.ResolveSnapshot(ctx, r.cacheSock, d, 0)
	t.Logf("two hosts' snapshots of one -D: %v", err)
	if err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), third) || !strings.Contains(err.Error(), "--snapshot-id") {
		t.Fatalf("resolve with two candidates: %v", err)
	}
}
