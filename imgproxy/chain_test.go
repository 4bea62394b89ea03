package imgproxy_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"testing"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// TestParentChain: a writer names its parent by directory (as dump's
// --prev-images-dir) and reads it back through the proxy; a reader finds
// the parent the cache recorded; a writer without a parent gets
// ErrNoParent, one whose parent the cache lacks a NotExist error naming
// it. Release frees a snapshot with the ancestors nothing else builds on.
func TestParentChain(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	root := t.TempDir()
	dial := func(dir string) *remote.Store {
		st, err := remote.Dial(ctx, r.proxySock, remote.Options{Snapshot: remoteimg.SnapshotID(dir), Dir: dir, Mode: remote.ModeWrite})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	d1, d2, d3 := filepath.Join(root, "1"), filepath.Join(root, "2"), filepath.Join(root, "3")
	pre := dial(d1)
	if _, err := pre.Parent(ctx); !errors.Is(err, image.ErrNoParent) {
		t.Fatalf("parent of a snapshot without one: %v", err)
	}
	pagemap := content(1, 4096+130)
	if err := put(ctx, pre, "pagemap-1.img", pagemap); err != nil {
		t.Fatal(err)
	}
	// A dump builds on a pre-dump that is not finished yet: refused.
	w2 := dial(d2)
	if err := w2.SetParent(ctx, "../1"); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Parent(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unfinished parent: %v", err)
	}
	if err := pre.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := w2.Parent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, p.(*remote.Store), "pagemap-1.img", pagemap)
	if err := put(ctx, w2, "pagemap-1.img", content(2, 100)); err != nil {
		t.Fatal(err)
	}
	if err := w2.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	// A second snapshot on the same pre-dump (a dump tried twice).
	w3 := dial(d3)
	if err := w3.SetParent(ctx, d1); err != nil { // absolute this time
		t.Fatal(err)
	}
	if err := w3.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	// --parent-snapshot names the parent by id; the directory is ignored.
	byID, err := remote.Dial(ctx, r.proxySock, remote.Options{Snapshot: "by-id", Parent: remoteimg.SnapshotID(d1), Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer byID.Close()
	if err := byID.SetParent(ctx, "../elsewhere"); err != nil {
		t.Fatal(err)
	}
	if p, err := byID.Parent(ctx); err != nil {
		t.Fatal(err)
	} else {
		mustGet(t, p.(*remote.Store), "pagemap-1.img", pagemap)
	}
	ghost := dial(filepath.Join(root, "4"))
	if err := ghost.SetParent(ctx, "../none"); err != nil {
		t.Fatal(err)
	}
	if _, err := ghost.Parent(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("parent the cache lacks: %v", err)
	}

	rd := r.reader(remoteimg.SnapshotID(d2))
	rp, err := rd.Parent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, rp.(*remote.Store), "pagemap-1.img", pagemap)
	if _, err := rp.(image.Chained).Parent(ctx); !errors.Is(err, image.ErrNoParent) {
		t.Fatalf("grandparent: %v", err)
	}
	held := func() []string {
		snaps, err := remote.ListSnapshots(ctx, r.cacheSock)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range snaps {
			ids = append(ids, s.ID)
		}
		sort.Strings(ids)
		return ids
	}
	id1, id2, id3 := remoteimg.SnapshotID(d1), remoteimg.SnapshotID(d2), remoteimg.SnapshotID(d3)
	if err := rd.Release(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{id1, id3}
	sort.Strings(want)
	if got := held(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("after releasing %s: cache holds %v, want %v", id2, got, want)
	}
	if err := r.reader(id3).Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := held(); len(got) != 0 {
		t.Fatalf("after releasing both: cache holds %v", got)
	}
}
