package imgproxy_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// netnsPair makes a network namespace joined to ours by a veth pair:
// 198.18.X.1 here, 198.18.X.2 there (198.18.0.0/15 is for benchmarks).
// It returns the namespace name, the peer address and a func that takes
// the namespace's end of the veth down for good.
func netnsPair(t *testing.T) (ns, peer string, down func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip tool")
	}
	n := rand.IntN(200) + 20
	ns = fmt.Sprintf("crbh%d", n)
	a, b := fmt.Sprintf("crbh%da", n), fmt.Sprintf("crbh%db", n)
	here, peer := fmt.Sprintf("198.18.%d.1", n), fmt.Sprintf("198.18.%d.2", n)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", a).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	run("link", "add", a, "type", "veth", "peer", "name", b)
	run("link", "set", b, "netns", ns)
	run("addr", "add", here+"/24", "dev", a)
	run("link", "set", a, "up")
	run("-n", ns, "addr", "add", peer+"/24", "dev", b)
	run("-n", ns, "link", "set", b, "up")
	run("-n", ns, "link", "set", "lo", "up")
	return ns, peer, func() { run("-n", ns, "link", "set", b, "down") }
}

// TestBlackHoledLink: the cache's host vanishes (its veth goes down for
// good) while a dump writes: nothing comes back, no RST, no FIN. The
// proxy must notice (TCP_USER_TIMEOUT, keepalive, a deadline on each
// expected reply) and fail the dump after its link and reconnect
// timeouts, saying so; it waited forever before (240 s seen, no log).
func TestBlackHoledLink(t *testing.T) {
	ns, peer, down := netnsPair(t)
	dir := t.TempDir()
	cacheSock, proxySock := filepath.Join(dir, "cache.sock"), filepath.Join(dir, "proxy.sock")
	port := "27031"
	startProc(t, []string{"ip", "netns", "exec", ns}, "image-cache", "--address", peer, "--port", port,
		"--local-socket", cacheSock, "--insecure")
	proxy := startProc(t, nil, "image-proxy", "--address", peer, "--port", port, "--local-socket", proxySock,
		"--reconnect-timeout", "3s", "--link-timeout", "4s", "--insecure")
	ctx := context.Background()
	st, err := remote.Dial(ctx, proxySock, remote.Options{Snapshot: "bh", Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := put(ctx, st, "core-1.img", content(1, 100000)); err != nil {
		t.Fatal(err)
	}
	down()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		err := put(ctx, st, "pages-1.img", content(2, 8<<20))
		if err == nil {
			err = st.Finish(ctx)
		}
		done <- err
	}()
	select {
	case err := <-done:
		took := time.Since(start)
		t.Logf("dump over a black-holed link failed after %v: %v", took.Round(100*time.Millisecond), err)
		if err == nil {
			t.Fatal("dump over a black-holed link succeeded")
		}
		if !errors.Is(err, remoteimg.ErrUnavailable) {
			t.Fatalf("want ErrUnavailable, got %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dump over a black-holed link still waits after 60s (link timeout 4s, reconnect timeout 3s)")
	}
	if !proxy.waitLog("image cache unreachable, failing pending images", 5*time.Second) {
		t.Fatal("the proxy logged nothing about the dead link")
	}
}
