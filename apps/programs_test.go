package apps

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
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

// apps is the suite's programs.
func apps() []*app {
	return []*app{
		{name: "redis", port: 6379, start: startRedis, dial: dialRedis},
		{name: "nginx", port: 8080, start: startNginx, dial: dialHTTP(8080, "/"), perConn: true},
		{name: "postgres", port: 5432, start: startPostgres, dial: dialPostgres, finish: finishPostgres},
		// Its listener is MPTCP (Go's default); the connection it
		// accepts from a plain TCP client is a TCP socket (MPTCP's
		// fallback), kept with --tcp-established.
		{name: "go-http", port: 8081, start: startGoHTTP, dial: dialHTTP(8081, "/")},
		{name: "node", port: 8082, start: startNode, dial: dialHTTP(8082, "/")},
		{name: "java", port: 8083, start: startJava, dial: dialHTTP(8083, "/")},
	}
}

// lookPath finds a program the suite needs, or skips t (.ci/run
// installs them all).
func lookPath(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("needs %s (Debian's %s; .ci/run installs it)", prog, pkg)
	}
	return p
}

// testdata is the absolute path of a file in testdata/.
func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startIn starts argv as a service in network namespace ns: in its own
// session, with stdio on /dev/null and only fds 0-2.
func startIn(t *testing.T, ns string, argv ...string) int {
	t.Helper()
	a := in(ns, argv...)
	cmd := crtest.Start(t, a[0], a[1:]...)
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		for _, p := range tmuxTree(pid) {
			crtest.Kill(p)
		}
	})
	go cmd.Wait()
	return pid
}

// served waits until ok succeeds on a new connection to port.
func served(t *testing.T, h *hosts, port int, pid int) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var c net.Conn
		if c, err = h.dial(port); err == nil {
			c.Close()
			return
		}
		if !crtest.Alive(pid) {
			t.Fatalf("the service (pid %d) exited before serving port %d", pid, port)
		}
	}
	t.Fatalf("nothing answers on %s:%d: %v", svcAddr, port, err)
}

// httpConn is one keep-alive HTTP/1.1 connection whose answers are a
// count.
type httpConn struct {
	c    net.Conn
	r    *bufio.Reader
	path string
}

func dialHTTP(port int, path string) func(h *hosts) (client, error) {
	return func(h *hosts) (client, error) {
		c, err := h.dial(port)
		if err != nil {
			return nil, err
		}
		return &httpConn{c: c, r: bufio.NewReader(c), path: path}, nil
	}
}

func (hc *httpConn) local() string { return hc.c.LocalAddr().String() }
func (hc *httpConn) Close() error  { return hc.c.Close() }

func (hc *httpConn) send() error {
	hc.c.SetDeadline(time.Now().Add(30 * time.Second))
	_, err := fmt.Fprintf(hc.c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", hc.path, svcAddr)
	return err
}

func (hc *httpConn) recv() (int, error) {
	hc.c.SetDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(hc.r, nil)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s: %q", resp.Status, b)
	}
	if resp.Close {
		return 0, fmt.Errorf("the server closes the keep-alive connection")
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// redisClient counts with INCR.
type redisClient struct{ *redisConn }

func (rc redisClient) local() string { return rc.c.LocalAddr().String() }

func (rc redisClient) send() error {
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	rc.redisConn.send([]byte("INCR"), []byte("count"))
	return rc.w.Flush()
}

func (rc redisClient) recv() (int, error) {
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	b, err := rc.reply()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

func dialRedis(h *hosts) (client, error) {
	c, err := h.dial(6379)
	if err != nil {
		return nil, err
	}
	return redisClient{&redisConn{c: c, r: bufio.NewReaderSize(c, 1<<16), w: bufio.NewWriterSize(c, 1<<16)}}, nil
}

// startRedis starts redis-server with some MB of keys, checked again
// with every count.
func startRedis(t *testing.T, ctx context.Context, h *hosts, dir string) int {
	bin := lookPath(t, "redis-server", "redis-server")
	// Not loopback: protected mode would refuse the clients.
	pid := startIn(t, h.a, bin, "--save", "", "--appendonly", "no", "--port", "6379", "--bind", svcAddr, "--protected-mode", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	served(t, h, 6379, pid)
	c, err := dialRedis(h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := redisSetAll(c.(redisClient).redisConn, redisData()); err != nil {
		t.Fatal(err)
	}
	return pid
}

const nginxConf = `daemon off;
master_process on;
worker_processes 2;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	keepalive_timeout 600s;
	keepalive_requests 100000;
	server {
		listen %[2]s:8080;
		location / { default_type text/plain; return 200 "$connection_requests\n"; }
	}
}
`

// startNginx starts nginx, a master and two workers, answering each
// request with its number on its keep-alive connection.
func startNginx(t *testing.T, ctx context.Context, h *hosts, dir string) int {
	bin := lookPath(t, "nginx", "nginx")
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, svcAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	pid := startIn(t, h.a, bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	served(t, h, 8080, pid)
	return pid
}

const goCounterSource = `package main

import (
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
)

// A stock net/http server (it listens with MPTCP, Go's default since
// 1.24) answering each request with the next count.
func main() {
	var n atomic.Int64
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, n.Add(1)) })
	fmt.Fprintln(os.Stderr, http.ListenAndServe(os.Args[1], nil))
	os.Exit(1)
}
`

// startGoHTTP builds and starts the Go server.
func startGoHTTP(t *testing.T, ctx context.Context, h *hosts, dir string) int {
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(goCounterSource), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "gohttp")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, src)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	pid := startIn(t, h.a, bin, net.JoinHostPort(svcAddr, "8081"))
	served(t, h, 8081, pid)
	return pid
}

// startNode starts testdata/counter.js.
func startNode(t *testing.T, ctx context.Context, h *hosts, dir string) int {
	bin := lookPath(t, "node", "nodejs")
	pid := startIn(t, h.a, bin, testdata(t, "counter.js"), svcAddr, "8082")
	served(t, h, 8082, pid)
	return pid
}

// startJava starts testdata/JavaCounter.java on svcAddr:8083.
func startJava(t *testing.T, ctx context.Context, h *hosts, dir string) int {
	bin := lookPath(t, "java", "default-jre-headless")
	src := testdata(t, "JavaCounter.java")
	portFile := filepath.Join(dir, "port")
	// The JDK's server closes a connection idle for idleInterval
	// seconds (30 by default).
	pid := startIn(t, h.a, bin, "-Dsun.net.httpserver.idleInterval=600", src, portFile, svcAddr, "8083")
	crtest.WaitFor(t, portFile, "\n", 60*time.Second)
	served(t, h, 8083, pid)
	return pid
}
