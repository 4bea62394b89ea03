package imgcache_test

// Tests that run the real criu image-cache and image-proxy binaries as
// child processes (built in TestMain), waiting for readiness on
// --status-fd, and the proxy→cache benchmark.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
	"golang.org/x/sys/unix"
)

var criuBin string

func TestMain(m *testing.M) {
	if spec := os.Getenv(envRelay); spec != "" {
		relayMain(spec)
	}
	// Daemons started with -d are orphaned by their parent; as a child
	// subreaper we inherit and can reap them (PID 1 here reaps nothing).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "PR_SET_CHILD_SUBREAPER: %v\n", err)
	}
	dir, err := os.MkdirTemp("", "criu-imgcache-test-")
	if err != nil {
		panic(err)
	}
	criuBin = filepath.Join(dir, "criu")
	if b := os.Getenv("CRIUGO_CRIU_BIN"); b != "" {
		// A prebuilt binary (when the tree's criu package does not build).
		criuBin = b
		code := crtest.RunWithFdCheck(m)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	cmd := exec.Command("go", "build", "-o", criuBin, "github.com/criugo/criu/criu")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building criu failed, process tests will fail:\n%s\n", out)
		criuBin = ""
	}
	code := crtest.RunWithFdCheck(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

func needBinary(t testing.TB) {
	t.Helper()
	if criuBin == "" {
		t.Fatal("criu binary did not build (see TestMain output)")
	}
}

// daemon is a running criu image-cache or image-proxy.
type daemon struct {
	t    testing.TB
	cmd  *exec.Cmd
	log  *lockedWriter
	done chan error
}

// startDaemon runs criu with args plus --status-fd and waits for the
// readiness byte (no sleeping). The process is killed in t.Cleanup,
// whatever the test's outcome; if the test binary dies, the kernel kills
// it (Pdeathsig). A daemon started with -d and --pidfile is killed too:
// see killDetached.
func startDaemon(t testing.TB, args ...string) *daemon {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	d := &daemon{t: t, log: &lockedWriter{}, done: make(chan error, 1)}
	d.cmd = exec.Command(criuBin, append(args, "--status-fd", "3", "-v4")...)
	d.cmd.ExtraFiles = []*os.File{w}
	d.cmd.WaitDelay = 2 * time.Second
	d.cmd.Stderr = d.log
	d.cmd.Stdout = d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	w.Close()
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		d.done <- nil
		if t.Failed() {
			t.Logf("%s log:\n%s", args[0], d.log.String())
		}
	})
	for i, a := range args {
		if (a == "-d" || a == "--daemon") && i > 0 {
			for j, b := range args[:len(args)-1] {
				if b == "--pidfile" {
					killDetached(t, args[j+1])
				}
			}
		}
	}
	r.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b [1]byte
	if n, err := r.Read(b[:]); n != 1 {
		t.Fatalf("%s never became ready (%v); log:\n%s", args[0], err, d.log.String())
	}
	return d
}

// killDetached registers a cleanup that SIGKILLs the detached daemon
// named by pidfile (if it is still a criu process) and waits until it is
// gone, so that no test leaves a daemon behind, even on failure.
func killDetached(t testing.TB, pidfile string) {
	t.Cleanup(func() {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return // never got ready: the -d parent killed it
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(pidfile)) {
			return // gone, or the pid was reused
		}
		syscall.Kill(pid, syscall.SIGKILL)
		// TestMain made us a child subreaper: the daemon, orphaned by its
		// -d parent, is our child and we reap it.
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err == nil {
			return
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			// Gone, or a zombie waiting for a reaper (it cannot run).
			if err != nil || bytes.Contains(st, []byte(") Z ")) {
				return
			}
		}
		t.Errorf("detached daemon %d survived SIGKILL", pid)
	})
}

// lockedWriter collects a child's output; safe for the copying goroutine
// and the test reading it at once.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLog waits until the daemon's log contains s.
func (d *daemon) waitLog(s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(d.log.String(), s) {
			return true
		}
	}
	return false
}

func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	err := <-d.done
	d.done <- err
}

// term sends SIGTERM and returns the exit error.
func (d *daemon) term() error {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(20 * time.Second):
		d.t.Fatal("daemon did not stop on SIGTERM")
		return nil
	}
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func pattern(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func writeImage(ctx context.Context, st *remote.Store, name string, data []byte) error {
	w, err := st.Create(ctx, name)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		k := min(len(data), 100_000)
		if _, err := w.Write(data[:k]); err != nil {
			w.Abort()
			return err
		}
		data = data[k:]
	}
	return w.Close()
}

func readImage(ctx context.Context, st *remote.Store, name string) ([]byte, error) {
	rc, err := st.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

type procRig struct {
	dir, port, cacheDir, cacheSock, proxySock string
}

func newProcRig(t *testing.T) *procRig {
	dir := t.TempDir()
	return &procRig{dir: dir, port: freePort(t), cacheDir: filepath.Join(dir, "cache"),
		cacheSock: filepath.Join(dir, "cache.sock"), proxySock: filepath.Join(dir, "proxy.sock")}
}

func (p *procRig) cache(t *testing.T, extra ...string) *daemon {
	return startDaemon(t, append([]string{"image-cache", "--address", "127.0.0.1", "--port", p.port,
		"-D", p.cacheDir, "--local-socket", p.cacheSock, "--pidfile", filepath.Join(p.dir, "cache.pid")}, extra...)...)
}

func (p *procRig) proxy(t *testing.T, extra ...string) *daemon {
	return startDaemon(t, append([]string{"image-proxy", "--address", "127.0.0.1", "--port", p.port,
		"--local-socket", p.proxySock}, extra...)...)
}

func (p *procRig) store(t *testing.T, mode remote.Mode, snap string) *remote.Store {
	t.Helper()
	sock := p.proxySock
	if mode == remote.ModeRead {
		sock = p.cacheSock
	}
	st, err := remote.Dial(context.Background(), sock, remote.Options{Snapshot: snap, Mode: mode, WaitSnapshot: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestDaemonsEndToEnd: real daemons; a snapshot goes through; the cache
// lists it; the cache is killed and restarted on its -D and serves the
// snapshot again; SIGTERM stops both cleanly.
func TestDaemonsEndToEnd(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	cache := p.cache(t, "--keep")
	proxy := p.proxy(t)
	pid, err := os.ReadFile(filepath.Join(p.dir, "cache.pid"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(cache.cmd.Process.Pid) {
		t.Fatalf("pidfile %q %v", pid, err)
	}
	ctx := context.Background()
	w := p.store(t, remote.ModeWrite, "dump-1")
	want := map[string][]byte{}
	for i, n := range []int{0, 4096, 8192, 123457, 1 << 20} {
		name := fmt.Sprintf("pages-%d.img", i)
		want[name] = pattern(i, n)
		if err := writeImage(ctx, w, name, want[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(criuBin, "image-cache", "--list", "--local-socket", p.cacheSock).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dump-1") || !strings.Contains(string(out), "finished") {
		t.Fatalf("--list: %s %v", out, err)
	}
	cache.kill()
	p.cache(t, "--keep")
	rd := p.store(t, remote.ModeRead, "dump-1")
	for name, b := range want {
		got, err := readImage(ctx, rd, name)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%s after cache restart: %d bytes, %v", name, len(got), err)
		}
	}
	if err := rd.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := proxy.term(); err != nil {
		t.Fatalf("proxy exit: %v", err)
	}
}

// TestDaemonProxyKilledMidTransfer: the writer's Close fails, and a reader
// of the half-sent image gets an error (not EOF) once the cache's resume
// timeout passes.
func TestDaemonProxyKilledMidTransfer(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	p.cache(t, "--resume-timeout", "300ms")
	proxy := p.proxy(t)
	ctx := context.Background()
	w := p.store(t, remote.ModeWrite, "s")
	iw, err := w.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	iw.Write(pattern(1, 1<<20))
	rc, err := p.store(t, remote.ModeRead, "s").Open(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	proxy.kill()
	iw.Write(pattern(2, 1<<20))
	if err := iw.Close(); err == nil {
		t.Fatal("Close succeeded with the proxy dead")
	}
	if err := w.Finish(ctx); err == nil {
		t.Fatal("Finish succeeded with the proxy dead")
	}
	_, err = io.ReadAll(rc)
	if !errors.Is(err, remoteimg.ErrAborted) {
		t.Fatalf("reader: %v, want ErrAborted", err)
	}
}

// TestDaemonCacheKilledMidTransfer: Finish fails with ErrUnavailable when
// the cache dies and does not come back within the reconnect timeout.
func TestDaemonCacheKilledMidTransfer(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	cache := p.cache(t)
	p.proxy(t, "--reconnect-timeout", "300ms")
	ctx := context.Background()
	w := p.store(t, remote.ModeWrite, "s")
	if err := writeImage(ctx, w, "a.img", pattern(1, 300000)); err != nil {
		t.Fatal(err)
	}
	iw, err := w.Create(ctx, "b.img")
	if err != nil {
		t.Fatal(err)
	}
	iw.Write(pattern(2, 500000))
	cache.kill()
	iw.Write(pattern(3, 500000))
	iw.Close() // the proxy may hold it; the Finish is what must fail
	err = w.Finish(ctx)
	if !errors.Is(err, remoteimg.ErrUnavailable) {
		t.Fatalf("Finish: %v, want ErrUnavailable", err)
	}
}

// TestDaemonizeAndTerm: -d returns once the daemon is ready (status-fd
// from the parent), the pidfile names the detached daemon, SIGTERM stops it.
func TestDaemonizeAndTerm(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	d := startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", p.port, "--local-socket", p.cacheSock,
		"--pidfile", filepath.Join(p.dir, "c.pid"), "-d", "-o", filepath.Join(p.dir, "cache.log"))
	if err := <-d.done; err != nil { // the parent exits 0 after readiness
		t.Fatalf("parent: %v", err)
	}
	d.done <- nil
	b, err := os.ReadFile(filepath.Join(p.dir, "c.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || pid == d.cmd.Process.Pid {
		t.Fatalf("pidfile %q", b)
	}
	if _, err := remote.ListSnapshots(context.Background(), p.cacheSock); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(p.dir, "c.pid")); errors.Is(err, fs.ErrNotExist) {
			// The daemon removes its pidfile on the way out; reap it (we
			// are its subreaper) so that it leaves no zombie either.
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("daemon did not stop on SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
