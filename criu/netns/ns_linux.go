package netns

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/nsenter"
)

// Namespace is an open network namespace: it owns a file descriptor for
// an nsfs file (/proc/PID/ns/net, /run/netns/NAME). Holding it keeps the
// namespace alive and pinned even if its processes exit. Close it only
// after the Dump or Restore that uses it has returned.
type Namespace struct {
	mu  sync.Mutex // protects f
	f   *os.File   // nil after Close
	pid int        // the task it was opened by (OpenPid), else 0
}

// Open opens the network namespace at path.
func Open(path string) (*Namespace, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	return &Namespace{f: os.NewFile(uintptr(fd), path)}, nil
}

// OpenPid opens the network namespace of process pid.
func OpenPid(pid int) (*Namespace, error) {
	n, err := Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if n != nil {
		n.pid = pid
	}
	return n, err
}

// Close releases the namespace. It is safe to call twice.
func (n *Namespace) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f == nil {
		return nil
	}
	err := n.f.Close()
	n.f = nil
	return err
}

// file returns the namespace's file, or an error after Close.
func (n *Namespace) file() (*os.File, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.f == nil {
		return nil, os.ErrClosed
	}
	return n.f, nil
}

// maxStderr caps how much of the tool's stderr is kept for error messages.
const maxStderr = 64 << 10

// capBuffer keeps the first maxStderr bytes written to it.
type capBuffer struct{ bytes.Buffer }

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := maxStderr - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// tool runs the ip tool inside one namespace.
type tool struct {
	path string // program, "ip" by default
	ns   *Namespace
}

// run runs `ip args...` inside t.ns, with no input or output but stderr.
func (t tool) run(ctx context.Context, args ...string) error {
	return t.runFiles(ctx, nil, nil, nil, args...)
}

// runFiles runs `ip args...` inside t.ns with stdin and stdout as given
// (nil for /dev/null), and extra open files from fd 3 on. The child is
// started from a thread that joined the namespace (nsenter.DoFD): it is
// cloned from that thread, so it inherits its network namespace.
func (t tool) runFiles(ctx context.Context, stdin *os.File, stdout io.Writer, extra []*os.File, args ...string) error {
	nsf, err := t.ns.file()
	if err != nil {
		return fmt.Errorf("run ip: %w", err)
	}
	cmd := exec.CommandContext(ctx, t.path, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout = stdout
	var stderr capBuffer
	cmd.Stderr = &stderr
	cmd.ExtraFiles = extra
	cmd.WaitDelay = 5 * time.Second
	// Make sure the ip tool speaks the language our callers parse.
	cmd.Env = append(os.Environ(), "LC_ALL=C")

	if err := nsenter.DoFD(int(nsf.Fd()), nsenter.Net, cmd.Start); err != nil {
		return &ToolError{Args: args, Err: err}
	}
	if err := cmd.Wait(); err != nil {
		return &ToolError{Args: args, Stderr: stderr.String(), Err: err}
	}
	return nil
}

// Exec runs program prog with args inside namespace n, stdin and stdout
// as given (nil for /dev/null); an error carries its stderr (ToolError).
func (n *Namespace) Exec(ctx context.Context, prog string, stdin *os.File, stdout io.Writer, args ...string) error {
	return tool{path: prog, ns: n}.runFiles(ctx, stdin, stdout, nil, args...)
}

// output runs `ip args...` and returns its stdout.
func (t tool) output(ctx context.Context, args ...string) ([]byte, error) {
	var out bytes.Buffer
	if err := t.runFiles(ctx, nil, &out, nil, args...); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Do runs f on an OS thread that has joined the namespace, and returns
// what f returns. A socket f creates belongs to the namespace (a socket
// takes the netns of the thread that makes it). f must not start
// goroutines that expect to run in the namespace: they run on other
// threads. The thread is discarded afterwards (nsenter.DoFD).
func (n *Namespace) Do(f func() error) error {
	nsf, err := n.file()
	if err != nil {
		return fmt.Errorf("enter netns: %w", err)
	}
	return nsenter.DoFD(int(nsf.Fd()), nsenter.Net, f)
}
