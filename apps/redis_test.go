package apps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// redisConn is a connection to redis speaking its protocol (RESP):
// commands are arrays of bulk strings; replies are read one by one, so
// that many commands can be sent before their replies are read.
type redisConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func redisDial(port int) (*redisConn, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	return &redisConn{c: c, r: bufio.NewReaderSize(c, 1<<16), w: bufio.NewWriterSize(c, 1<<16)}, nil
}

func (rc *redisConn) Close() error { return rc.c.Close() }

// send queues one command.
func (rc *redisConn) send(args ...[]byte) {
	fmt.Fprintf(rc.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(rc.w, "$%d\r\n", len(a))
		rc.w.Write(a)
		rc.w.WriteString("\r\n")
	}
}

// reply reads one reply: a simple string or integer as its text, a bulk
// string as its bytes, nil for a null bulk string; an error reply is an
// error.
func (rc *redisConn) reply() ([]byte, error) {
	line, err := rc.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redis: bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return nil, fmt.Errorf("redis: %s", body)
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil || n < -1 || n > 512<<20 {
			return nil, fmt.Errorf("redis: bad bulk length %q", body)
		}
		if n == -1 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, b); err != nil {
			return nil, err
		}
		return b[:n], nil
	}
	return nil, fmt.Errorf("redis: unexpected reply %q", line)
}

// do sends one command and reads its reply.
func (rc *redisConn) do(args ...string) ([]byte, error) {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	rc.send(bs...)
	if err := rc.w.Flush(); err != nil {
		return nil, err
	}
	return rc.reply()
}

// redisData is the data set: many small values and a few of some MB,
// deterministic, about 24 MiB in all.
func redisData() map[string][]byte {
	rng := rand.New(rand.NewSource(11))
	data := map[string][]byte{}
	for i := 0; i < 4000; i++ {
		b := make([]byte, 1+rng.Intn(4096))
		rng.Read(b)
		data[fmt.Sprintf("key:%d", i)] = b
	}
	for i := 0; i < 4; i++ {
		b := make([]byte, (4+i)<<20)
		rng.Read(b)
		data[fmt.Sprintf("big:%d", i)] = b
	}
	return data
}

// redisSetAll SETs every key, pipelined.
func redisSetAll(rc *redisConn, data map[string][]byte) error {
	for k, v := range data {
		rc.send([]byte("SET"), []byte(k), v)
	}
	if err := rc.w.Flush(); err != nil {
		return err
	}
	for range data {
		if r, err := rc.reply(); err != nil || string(r) != "OK" {
			return fmt.Errorf("SET: %q %v", r, err)
		}
	}
	return nil
}

// redisCheckAll GETs every key, pipelined, and compares the values.
func redisCheckAll(rc *redisConn, data map[string][]byte) error {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
		rc.send([]byte("GET"), []byte(k))
	}
	if err := rc.w.Flush(); err != nil {
		return err
	}
	bad := 0
	var first string
	for _, k := range keys {
		v, err := rc.reply()
		if err != nil {
			return fmt.Errorf("GET %s: %w", k, err)
		}
		if !bytes.Equal(v, data[k]) {
			if bad == 0 {
				first = fmt.Sprintf("%s: %d bytes, want %d", k, len(v), len(data[k]))
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d values differ (first %s)", bad, len(keys), first)
	}
	return nil
}

// redisFreePort is a loopback TCP port nobody listens on now.
func redisFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// redisServed waits until redis-server answers PING on port.
func redisServed(t *testing.T, port int) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var rc *redisConn
		if rc, err = redisDial(port); err != nil {
			continue
		}
		var r []byte
		r, err = rc.do("PING")
		rc.Close()
		if err == nil && string(r) == "PONG" {
			return
		}
	}
	t.Fatalf("redis on port %d does not answer: %v", port, err)
}

// redisQuiet waits until the server side of every connection to port is
// gone (closed by redis after the client's close): only the listener
// and TIME_WAIT entries, which no socket holds, are left in
// /proc/net/tcp.
func redisQuiet(t *testing.T, port int) {
	t.Helper()
	local := fmt.Sprintf(":%04X", port)
	var busy []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		busy = busy[:0]
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st ...; 0A LISTEN, 06 TIME_WAIT
			if len(f) > 3 && strings.HasSuffix(f[1], local) && f[3] != "0A" && f[3] != "06" {
				busy = append(busy, line)
			}
		}
		if len(busy) == 0 {
			return
		}
	}
	t.Fatalf("connections to redis still open:\n%s", strings.Join(busy, "\n"))
}

// TestRedis dumps redis-server holding some MB of keys with bin/criu,
// restores it, reads every key back and writes a new one, with its own
// client redis-cli too. A dump while a client is connected is refused,
// naming the connection, and redis goes on serving.
func TestRedis(t *testing.T) {
	crtest.RequireRoot(t)
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("needs redis-server (Debian's redis-server; .ci/run installs it)")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("needs redis-cli (Debian's redis-tools; .ci/run installs it)")
	}
	crtest.Subreaper(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	port := redisFreePort(t)
	cmd := crtest.Start(t, server, "--save", "", "--appendonly", "no", "--port", strconv.Itoa(port),
		"--bind", "127.0.0.1", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	redisServed(t, port)

	data := redisData()
	rc, err := redisDial(port)
	if err != nil {
		t.Fatal(err)
	}
	if err := redisSetAll(rc, data); err != nil {
		t.Fatal(err)
	}
	criu := crtest.Criu(t)
	img := filepath.Join(dir, "img")

	// With a client connected: refused, by name, and redis runs on.
	if err := os.Mkdir(img+"-refused", 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", img+"-refused", "-v4", "-o", filepath.Join(dir, "dump-refused.log"))
	if err == nil {
		t.Fatalf("criu dump of redis with a client connected succeeded:\n%s", out)
	}
	clientAddr := rc.c.LocalAddr().String()
	if !strings.Contains(out, "TCP connection") || !strings.Contains(out, clientAddr) {
		t.Errorf("criu dump refused the connected redis without naming the connection to %s:\n%s", clientAddr, out)
	}
	if !crtest.Alive(pid) {
		t.Fatal("redis is gone after a refused dump")
	}
	if r, err := rc.do("DBSIZE"); err != nil || string(r) != strconv.Itoa(len(data)) {
		t.Fatalf("after the refused dump, the connected client gets DBSIZE %q, %v; want %d", r, err, len(data))
	}
	rc.Close()
	redisQuiet(t, port)

	// Without: dumped, restored, every key back.
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-v4", "-o", filepath.Join(dir, "dump.log"))
	if err != nil {
		t.Fatalf("criu dump: %v\n%s", err, out)
	}
	var werr *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &werr) {
		t.Fatalf("redis after dump: %v, want it killed", err)
	}
	if _, err := redisDial(port); err == nil {
		t.Fatal("something answers on the port after dump")
	}
	out, err = crtest.Run(ctx, criu, "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(dir, "restore.log"))
	if err != nil {
		t.Fatalf("criu restore: %v\n%s", err, out)
	}
	if !crtest.Alive(pid) {
		t.Fatal("redis is not running after restore")
	}
	rc, err = redisDial(port)
	if err != nil {
		t.Fatalf("connect to the restored redis: %v", err)
	}
	defer rc.Close()
	if err := redisCheckAll(rc, data); err != nil {
		t.Fatalf("restored redis: %v", err)
	}
	if r, err := rc.do("SET", "after", "restore"); err != nil || string(r) != "OK" {
		t.Fatalf("SET after restore: %q %v", r, err)
	}
	// Its own client, too.
	b, err := exec.CommandContext(ctx, cli, "-p", strconv.Itoa(port), "GET", "after").CombinedOutput()
	if err != nil || strings.TrimSpace(string(b)) != "restore" {
		t.Fatalf("redis-cli GET after: %q %v", b, err)
	}
	b, err = exec.CommandContext(ctx, cli, "-p", strconv.Itoa(port), "DBSIZE").CombinedOutput()
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(len(data)+1) {
		t.Fatalf("redis-cli DBSIZE: %q %v, want %d", b, err, len(data)+1)
	}
	if _, err := rc.do("SHUTDOWN", "NOSAVE"); err == nil {
		t.Error("SHUTDOWN NOSAVE answered: redis did not stop")
	}
	crtest.Reap(pid)
}
