package imgproxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/proto/images"
	"github.com/criugo/criu/remoteimg"
)

// logTimes returns the time of the first line of a JSON log whose
// message is each of msgs.
func logTimes(t *testing.T, log string, msgs ...string) map[string]time.Time {
	t.Helper()
	got := map[string]time.Time{}
	for _, l := range strings.Split(log, "\n") {
		var e struct {
			Time    time.Time `json:"time"`
			Message string    `json:"message"`
		}
		if json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		for _, m := range msgs {
			if _, ok := got[m]; !ok && e.Message == m {
				got[m] = e.Time
			}
		}
	}
	for _, m := range msgs {
		if _, ok := got[m]; !ok {
			t.Fatalf("the dump log has no %q line:\n%s", m, log)
		}
	}
	return got
}

// TestDumpRemoteFrozenTimeCoversFinish: a real criu dump --remote
// through the real daemons (the cache keeps snapshots on disk). The
// snapshot is sealed by its confirmation, so stats-dump goes with
// the Confirm: its frozen_time, read back from the snapshot a restore
// gets (after a cache restart, from the cache's journal), must include
// the time from the freeze until the cache acknowledged the Finish,
// as the dump's own log timestamps say (before, the stats image was
// sent before the Finish and left its round trip out). The restore
// then runs the task on.
func TestDumpRemoteFrozenTimeCoversFinish(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	work := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "memloop.c"), false)
	dir := t.TempDir()
	port := freePort(t)
	cacheDir := filepath.Join(dir, "cache")
	cacheSock, proxySock := filepath.Join(dir, "cache.sock"), filepath.Join(dir, "proxy.sock")
	cacheArgs := []string{"image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", cacheSock, "-D", cacheDir}
	cache := startProc(t, nil, cacheArgs...)
	startProc(t, nil, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", proxySock)
	status := filepath.Join(dir, "status")
	cmd := crtest.Start(t, work, status)
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, status, "ready", 10*time.Second)
	snap := filepath.Join(dir, "snap")
	ctx := context.Background()
	log, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", snap, "--remote", "--remote-socket", proxySock,
		"-v4", "--log-format", "json")
	if err != nil {
		t.Fatalf("dump: %v\n%s", err, log)
	}
	cmd.Wait()
	const frozenMsg, heldMsg, ackMsg = "tree frozen", "snapshot held by image cache, confirming it", "snapshot acknowledged by image cache"
	at := logTimes(t, log, frozenMsg, heldMsg, ackMsg)
	toHeld, toAck := at[heldMsg].Sub(at[frozenMsg]), at[ackMsg].Sub(at[frozenMsg])

	// The cache restarts: what it serves now is what its journal holds.
	cache.cmd.Process.Kill()
	<-cache.done
	startProc(t, nil, cacheArgs...)
	rs, err := remote.Dial(ctx, cacheSock, remote.Options{Snapshot: remoteimg.SnapshotID(snap), Mode: remote.ModeRead, WaitSnapshot: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var se images.StatsEntry
	if err := image.ReadOne(ctx, rs, "stats-dump", &se); err != nil {
		t.Fatalf("stats-dump of the restarted cache's snapshot: %v", err)
	}
	frozen := time.Duration(se.GetDump().GetFrozenTime()) * time.Microsecond
	t.Logf("frozen_time %v; the dump's log: freeze to the Finish's ok %v, to the Confirm's ok %v", frozen, toHeld, toAck)
	// The image holds microseconds.
	if frozen+time.Microsecond < toHeld {
		t.Errorf("frozen_time %v leaves out the cache's acknowledgement of the Finish (%v after the freeze)", frozen, toHeld)
	}
	if frozen > toAck {
		t.Errorf("frozen_time %v is more than the freeze to the Confirm's ok (%v): not measured in the dump", frozen, toAck)
	}

	pidfile := filepath.Join(dir, "restored.pid")
	rlog, err := crtest.Run(ctx, criu, "restore", "-D", snap, "--remote", "--remote-socket", cacheSock,
		"--restore-detached", "--pidfile", pidfile, "-v4")
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, rlog)
	}
	b, _ := os.ReadFile(pidfile)
	rpid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if rpid != pid {
		t.Fatalf("restored pid %q, want %d", b, pid)
	}
	syscall.Kill(rpid, syscall.SIGUSR2)
	crtest.Verdict(t, status, "ok", 10*time.Second)
}

// writeSnap writes images of a few sizes to snapshot snap through r.
func writeSnap(t *testing.T, r *rig, snap string) (*remote.Store, map[string][]byte) {
	t.Helper()
	w := r.writer(snap, "")
	want := map[string][]byte{}
	for i, n := range []int{0, 1, 5000, 300 << 10} {
		name := fmt.Sprintf("img-%d.img", i)
		want[name] = content(uint64(i), n)
		if err := put(context.Background(), w, name, want[name]); err != nil {
			t.Fatal(err)
		}
	}
	return w, want
}

// TestLateImageCacheRestartWhileHeld: the cache restarts while it holds
// the snapshot (Finish answered, Confirm not yet sent). The proxy
// resends the Confirm, with its late stats-dump, to the restarted
// cache, which replayed the held snapshot from its journal: the
// snapshot is served with the late image, and still is after another
// restart (the journal's "finish commit" line).
func TestLateImageCacheRestartWhileHeld(t *testing.T) {
	dir := t.TempDir()
	o := rigOpts{cacheDir: dir, keep: true}
	r := newRig(t, o)
	ctx := context.Background()
	w, want := writeSnap(t, r, "s")
	late := content(99, 777)
	err := w.FinishWith(ctx, remoteimg.LateImage, func() ([]byte, error) {
		if st := listState(t, r.cacheSock, "s"); st != "held" {
			t.Errorf("snapshot is %s when its Confirm is built, want held", st)
		}
		r.stopCache()
		r.cacheSockRestart(o)
		if st := listState(t, r.cacheSock, "s"); st != "held" {
			t.Errorf("restarted cache: snapshot is %s, want held", st)
		}
		return late, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want[remoteimg.LateImage] = late
	for round := 0; round < 2; round++ {
		rd := r.reader("s")
		for name, b := range want {
			mustGet(t, rd, name, b)
		}
		r.stopCache()
		r.cacheSockRestart(o)
	}
}

// TestLateImageTornConfirm: a cache that crashed while it wrote the
// Confirm's journal line (torn) replays the snapshot as held, not
// served: the dump never got the Confirm's ok, so its tasks run on.
func TestLateImageTornConfirm(t *testing.T) {
	dir := t.TempDir()
	o := rigOpts{cacheDir: dir, keep: true}
	r := newRig(t, o)
	ctx := context.Background()
	w, _ := writeSnap(t, r, "s")
	err := w.FinishWith(ctx, remoteimg.LateImage, func() ([]byte, error) {
		r.stopCache()
		j, err := os.OpenFile(filepath.Join(dir, "snapshots", "s", ".journal"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		j.WriteString(`finish commit 00000000000000ab 777 12`)
		j.Close()
		r.cacheSockRestart(o)
		return nil, errors.New("the dump gives up")
	})
	if err == nil {
		t.Fatal("FinishWith succeeded although its last image failed")
	}
	if st := listState(t, r.cacheSock, "s"); st != "held" {
		t.Fatalf("after a torn Confirm line the snapshot is %s, want held", st)
	}
	if _, err := get(ctx, r.readerWait("s", 300*time.Millisecond), remoteimg.LateImage); !errors.Is(err, remoteimg.ErrUnavailable) {
		t.Fatalf("read of %s of a held snapshot: %v, want a bounded wait (unavailable)", remoteimg.LateImage, err)
	}
}

// TestLateImageReaderWaits: a restore that asks for stats-dump while
// the snapshot is held (Finish answered, Confirm on its way) waits for
// the Confirm and gets the image whole, instead of "does not exist".
func TestLateImageReaderWaits(t *testing.T) {
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	w, _ := writeSnap(t, r, "s")
	late := content(7, 300)
	type res struct {
		b   []byte
		err error
	}
	got := make(chan res, 1)
	err := w.FinishWith(ctx, remoteimg.LateImage, func() ([]byte, error) {
		rd := r.reader("s")
		go func() {
			b, err := get(ctx, rd, remoteimg.LateImage)
			got <- res{b, err}
		}()
		select {
		case g := <-got:
			t.Errorf("read of %s in a held snapshot ended before its Confirm: %d bytes, %v", remoteimg.LateImage, len(g.b), g.err)
			got <- g
		case <-time.After(300 * time.Millisecond):
		}
		return late, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g := <-got
	if g.err != nil || !bytes.Equal(g.b, late) {
		t.Fatalf("read of %s: %d bytes, %v; want the %d bytes of the Confirm", remoteimg.LateImage, len(g.b), g.err, len(late))
	}
}
