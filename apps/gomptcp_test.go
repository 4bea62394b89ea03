package apps

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// goHTTPServer builds testdata/mptcphttp (a stock net/http server) with
// the Go toolchain, starts it and returns the process and its port.
func goHTTPServer(t *testing.T, dir string) (*exec.Cmd, int) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("needs the Go toolchain")
	}
	bin := filepath.Join(dir, "mptcphttp")
	build := exec.Command(goTool, "build", "-o", bin, "./testdata/mptcphttp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	portFile := filepath.Join(dir, "port")
	cmd := crtest.Start(t, bin, portFile)
	t.Cleanup(func() { crtest.Kill(cmd.Process.Pid) })
	crtest.WaitFor(t, portFile, "\n", 30*time.Second)
	return cmd, portOf(t, portFile)
}

// A stock Go net/http server listens with MPTCP (Go ≥ 1.24): bin/criu
// dumps it (its listener an inetsk entry of protocol 262) and restores
// it, and it answers the next request with the next count.
func TestGoHTTPServerMPTCP(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOPROTOOPT) {
		t.Skipf("no MPTCP in this kernel (Go falls back to TCP): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	dir := t.TempDir()
	cmd, port := goHTTPServer(t, dir)
	for i, want := range []string{"1", "2"} {
		if got := javaGet(t, port); got != want {
			t.Fatalf("request %d: count %q, want %q", i, got, want)
		}
	}
	// The server closes its side of each connection once the client
	// has closed: wait until only the listener is left.
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); javaSockets(pid) > 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server still holds %d sockets", javaSockets(pid))
		}
	}
	img := filepath.Join(dir, "img")
	if err := os.Mkdir(img, 0o700); err != nil {
		t.Fatal(err)
	}
	criu := crtest.Criu(t)
	ctx := context.Background()
	start := time.Now()
	if out, err := crtest.Run(ctx, criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-v4", "-o", filepath.Join(img, "dump.log")); err != nil {
		b, _ := os.ReadFile(filepath.Join(img, "dump.log"))
		t.Fatalf("dump: %v\n%s\n%s", err, out, javaTail(b))
	}
	dumped := time.Since(start)
	cmd.Wait()
	d, err := image.NewDir(img)
	if err != nil {
		t.Fatal(err)
	}
	files, err := image.ReadAll(ctx, d, "files.img", func() proto.Message { return &images.FileEntry{} })
	if err != nil {
		t.Fatal(err)
	}
	mptcp := 0
	for _, m := range files {
		if isk := m.(*images.FileEntry).GetIsk(); isk != nil && isk.GetProto() == unix.IPPROTO_MPTCP && isk.GetSrcPort() == uint32(port) {
			mptcp++
		}
	}
	if mptcp != 1 {
		t.Fatalf("files.img has %d MPTCP sockets on port %d, want the listener", mptcp, port)
	}
	pidfile := filepath.Join(dir, "restored.pid")
	start = time.Now()
	if out, err := crtest.Run(ctx, criu, "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(img, "restore.log"), "--pidfile", pidfile); err != nil {
		b, _ := os.ReadFile(filepath.Join(img, "restore.log"))
		t.Fatalf("restore: %v\n%s\n%s", err, out, javaTail(b))
	}
	restored := time.Since(start)
	rpid := restoredPid(t, pidfile)
	t.Cleanup(func() { crtest.Kill(rpid) })
	for i, want := range []string{"3", "4"} {
		if got := javaGet(t, port); got != want {
			t.Fatalf("request %d after restore: count %q, want %q", i, got, want)
		}
	}
	t.Logf("dump %v, restore %v", dumped.Round(time.Millisecond), restored.Round(time.Millisecond))
}
