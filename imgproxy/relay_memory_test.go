package imgproxy_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// TestProxyMemoryManyRelays (item 14): 16 readers of a parent snapshot
// at once (the cache's cap on one peer's readers: the proxy is one
// peer) through a proxy with --max-memory 8M (a dump reading its
// parent's images goes through the proxy's reader relay), none reading
// what it asked for yet. Each relay's buffers (the cache connection's
// read buffer, a frame buffer, the frame writer's buffer: 2.1 MiB) are
// charged before they exist, so three relays run and the others are
// refused at once with ErrNoSpace naming --max-memory; the proxy's RSS
// stays near the budget, and the relays that run serve the image whole.
// Main ran all 16, their buffers uncharged (a frame allocated per
// message, and the writer's copy of it), its RSS 10 MiB over the budget's
// worth.
func TestProxyMemoryManyRelays(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cacheSock, proxySock := filepath.Join(dir, "cache.sock"), filepath.Join(dir, "proxy.sock")
	startProc(t, nil, "image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", cacheSock, "--max-memory", "1G")
	proxy := startProc(t, nil, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", proxySock,
		"--max-memory", "8M")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := content(3, 16<<20)
	w, err := remote.Dial(ctx, proxySock, remote.Options{Snapshot: "parent", Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, w, "pages-1.img", data); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	base := proxy.status(t, "VmRSS")
	const readers = 16
	var conns []*remoteimg.Conn
	for range readers {
		rc, err := remote.DialUnix(ctx, proxySock, remoteimg.RoleReader)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if err := rc.W.WriteMsg(1, &remoteimg.Get{Snapshot: "parent", Name: "pages-1.img", WaitMillis: 5000}); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, rc)
	}
	// Wait until nothing moves any more: the relays are stalled on
	// readers that do not read.
	var rss int64
	for stable, deadline := 0, time.Now().Add(20*time.Second); stable < 8 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r := proxy.status(t, "VmRSS")
		if r <= rss+(1<<20) && r >= rss-(1<<20) {
			stable++
		} else {
			stable = 0
		}
		rss = r
	}
	t.Logf("%d stalled parent reads through the proxy: RSS %d MiB (%d before them; --max-memory 8M)", readers, rss>>20, base>>20)
	if rss-base > 8<<20 {
		t.Errorf("proxy RSS grew by %d MiB with %d stalled relays at --max-memory 8M: relay buffers not charged", (rss-base)>>20, readers)
	}
	ok, refused := 0, 0
	var told string
	for i, rc := range conns {
		rc.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, m, err := rc.ReadMsg()
		if err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
		r, isResult := m.(*remoteimg.Result)
		if !isResult {
			t.Fatalf("reader %d: %s first, want a Result", i, m.Type())
		}
		if err := remoteimg.ResultError(*r); err != nil {
			if !isErr(err, remoteimg.ErrNoSpace) || !strings.Contains(err.Error(), "--max-memory") {
				t.Fatalf("reader %d refused with %v, want ErrNoSpace naming --max-memory", i, err)
			}
			refused++
			told = err.Error()
			continue
		}
		var got []byte
		for {
			_, m, err := rc.ReadMsg()
			if err != nil {
				t.Fatalf("reader %d: %v", i, err)
			}
			if d, isData := m.(*remoteimg.Data); isData {
				got = append(got, d.Bytes...)
				continue
			}
			if _, end := m.(*remoteimg.End); !end {
				t.Fatalf("reader %d: %s in the image", i, m.Type())
			}
			break
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("reader %d: %d bytes, not the image's %d", i, len(got), len(data))
		}
		ok++
	}
	if ok == 0 || ok > 4 {
		t.Errorf("%d of %d relays ran at --max-memory 8M (2.1 MiB each), want 1 to 4", ok, readers)
	}
	scenario := fmt.Sprintf("scenario: %d parent reads at once through a proxy --max-memory 8M | n/a (raw clients) | "+
		"yes (%d served whole) | %d refused; RSS +%d MiB | %s", readers, ok, refused, (rss-base)>>20, told)
	t.Log(scenario)
}
