package imgproxy_test

// Helpers for the tests that run the real criu binary (image-proxy,
// image-cache, dump, restore) as child processes.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// proc is a running criu daemon.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProc runs criu args (plus --status-fd) with argv0 prefix pre
// (e.g. ip netns exec NS) and waits until it is ready. It is killed when
// the test ends.
func startProc(t *testing.T, pre []string, args ...string) *proc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	argv := append(append(append([]string(nil), pre...), crtest.Criu(t)), args...)
	argv = append(argv, "--status-fd", "3", "-v4")
	p := &proc{out: &syncBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.ExtraFiles = []*os.File{w}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	w.Close()
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s log:\n%s", args[0], tailStr(p.out.String(), 6000))
		}
	})
	r.SetReadDeadline(time.Now().Add(30 * time.Second))
	var b [1]byte
	if n, err := r.Read(b[:]); n != 1 {
		t.Fatalf("%s never became ready (%v):\n%s", args[0], err, p.out.String())
	}
	return p
}

func tailStr(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// status reads a field (kB) of /proc/PID/status, in bytes.
func (p *proc) status(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no %s in status", field)
	return 0
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// waitLog waits until the process's output contains s.
func (p *proc) waitLog(s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.out.String(), s) {
			return true
		}
	}
	return false
}
