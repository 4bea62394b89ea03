package firewall

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
)

// requireNet skips t unless it runs as root with the ip tool.
func requireNet(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip tool (iproute2)")
	}
}

// testNS is a named network namespace made with `ip netns add` for one
// test, deleted when the test ends. Its ns runs the tools through `ip
// netns exec` (netns.Namespace, which imports this package, cannot be
// used here).
type testNS struct {
	name string
	ns   ipNetns
}

// ipNetns is an NS of a named namespace.
type ipNetns string

func (n ipNetns) Exec(ctx context.Context, prog string, stdin *os.File, stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", string(n), prog}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %w: %s", prog, args, err, stderr.String())
	}
	return nil
}

// Do runs f on a thread that joined the namespace, then lets the thread
// go (it stays locked, so the runtime ends it).
func (n ipNetns) Do(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(filepath.Join("/run/netns", string(n)), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err != nil {
			done <- err
			return
		}
		done <- f()
	}()
	return <-done
}

func newTestNS(t *testing.T, tag string) *testNS {
	t.Helper()
	name := fmt.Sprintf("criugo-fw%s-%d", tag, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return &testNS{name: name, ns: ipNetns(name)}
}

// in runs a program in the named namespace and fails t on error.
func (n *testNS) in(t *testing.T, prog string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.name, prog}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", prog, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nft runs nft(8) in the named namespace and fails t on error.
func (n *testNS) nft(t *testing.T, args ...string) string {
	t.Helper()
	return n.in(t, "nft", args...)
}

// dump saves both kinds of rules of ns, as netns.Dump does.
func dump(ctx context.Context, store image.Store, ns NS, id uint32) (int, error) {
	n, err := DumpNftables(ctx, store, ns, id)
	if err != nil {
		return 0, err
	}
	m, err := DumpIptables(ctx, store, ns, id)
	return n + m, err
}

// restore makes both kinds again, as netns.Restore does.
func restore(ctx context.Context, store image.Store, ns NS, id uint32) error {
	if err := RestoreNftables(ctx, store, ns, id); err != nil {
		return err
	}
	return RestoreIptables(ctx, store, ns, id)
}
