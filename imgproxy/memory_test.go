package imgproxy_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
)

// TestProxyMemoryManyWriters: 200 images in flight at once through a
// proxy with --max-memory 64M whose cache is not up yet (it keeps
// redialing), so nothing is acknowledged and the budget fills. Every buffer the proxy holds is charged against
// its budget, so its RSS stays near 64 MiB; it reached 233 MB when each
// waiting writer held an uncharged 1 MiB frame. The proxy logs the
// transfer's progress meanwhile.
func TestProxyMemoryManyWriters(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cacheSock, proxySock := filepath.Join(dir, "cache.sock"), filepath.Join(dir, "proxy.sock")
	proxy := startProc(t, nil, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", proxySock,
		"--max-memory", "64M", "--reconnect-timeout", "10m")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := remote.Dial(ctx, proxySock, remote.Options{Snapshot: "many", Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const writers = 200
	data := content(9, 4<<20)
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := st.Create(ctx, fmt.Sprintf("pages-%d.img", i))
			if err != nil {
				return
			}
			w.Write(data)
		}()
	}
	// Wait until nothing moves any more: the proxy's RSS is stable.
	var rss int64
	for stable, deadline := 0, time.Now().Add(30*time.Second); stable < 10; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
		r := proxy.status(t, "VmRSS")
		if r <= rss+(1<<20) && r >= rss-(1<<20) {
			stable++
		} else {
			stable = 0
		}
		rss = r
	}
	hwm := proxy.status(t, "VmHWM")
	t.Logf("proxy with 200 images in flight: RSS %d MiB, peak %d MiB (--max-memory 64M)", rss>>20, hwm>>20)
	if hwm > 112<<20 {
		t.Fatalf("proxy peak RSS %d MiB with --max-memory 64M: buffers not charged", hwm>>20)
	}
	// The cache comes up: the transfer moves, and as it takes long the
	// proxy says so, with its throughput.
	t0 := time.Now()
	startProc(t, nil, "image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", cacheSock, "--max-memory", "2G")
	if !proxy.waitLog("forwarding to the image cache", 20*time.Second) || !proxy.waitLog("mib_per_s", time.Second) {
		t.Fatal("the proxy logged no progress in 20 s of a long transfer")
	}
	t.Logf("progress logged %v after the cache came up", time.Since(t0).Round(time.Millisecond))
	proxy.cmd.Process.Kill() // the writers' writes fail
	wg.Wait()
}
