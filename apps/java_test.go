package apps

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// javaCounter starts testdata/JavaCounter.java (a com.sun.net.httpserver
// HttpServer on loopback counting its requests) in source-launch mode and
// returns the process and its port.
func javaCounter(t *testing.T, dir string) (*exec.Cmd, int) {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatal("needs java (Debian's default-jre-headless; .ci/run installs it)")
	}
	src, err := filepath.Abs(filepath.Join("testdata", "JavaCounter.java"))
	if err != nil {
		t.Fatal(err)
	}
	portFile := filepath.Join(dir, "port")
	// The JVM's defaults, as users run it: G1 and its threads, a heap
	// reserved from a quarter of the memory, the hsperfdata file mapped
	// shared in /tmp.
	cmd := crtest.Start(t, java, src, portFile)
	t.Cleanup(func() { crtest.Kill(cmd.Process.Pid) })
	crtest.WaitFor(t, portFile, "\n", 60*time.Second)
	return cmd, portOf(t, portFile)
}

// javaGet asks the counter for its next count over a connection that is
// closed after the answer (an established TCP connection cannot be
// dumped).
func javaGet(t *testing.T, port int) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// javaSockets counts pid's open sockets.
func javaSockets(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// A Java HttpServer (many threads, epoll, a socketpair whose other end
// the JDK closed at once, a TCP listener) is dumped and restored by
// bin/criu and serves the next count.
func TestJavaHttpServer(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	dir := t.TempDir()
	cmd, port := javaCounter(t, dir)
	pid := cmd.Process.Pid
	idle := javaSockets(pid)
	for i, want := range []string{"1", "2"} {
		if got := javaGet(t, port); got != want {
			t.Fatalf("request %d: count %q, want %q", i, got, want)
		}
	}
	// The server closes its side of each connection after answering.
	for deadline := time.Now().Add(10 * time.Second); javaSockets(pid) > idle; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds %d sockets, %d when idle", javaSockets(pid), idle)
		}
	}
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o700); err != nil {
		t.Fatal(err)
	}
	criu := crtest.Criu(t)
	ctx := context.Background()
	if out, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-v4", "-o", filepath.Join(img, "dump.log")); err != nil {
		b, _ := os.ReadFile(filepath.Join(img, "dump.log"))
		t.Fatalf("dump: %v\n%s\n%s", err, out, javaTail(b))
	}
	cmd.Wait()
	pidfile := filepath.Join(dir, "restored.pid")
	if out, err := crtest.Run(ctx, criu, "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile); err != nil {
		b, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("restore: %v\n%s\n%s", err, out, javaTail(b))
	}
	rpid := restoredPid(t, pidfile)
	t.Cleanup(func() { crtest.Kill(rpid) })
	for i, want := range []string{"3", "4"} {
		if got := javaGet(t, port); got != want {
			t.Fatalf("request %d after restore: count %q, want %q", i, got, want)
		}
	}
}

func javaTail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
