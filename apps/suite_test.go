package apps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// criu42 is the reference, CRIU 4.2, measured beside ours where it is
// installed (crtest.CRIU42).
var criu42 = crtest.CRIU42()

// tcpEstablished says whether bin/criu checkpoints established TCP
// connections (--tcp-established): then every client keeps its
// connection across each migration, with requests in flight, unless
// its app says why it is refused. Without, the suite checks that a dump
// with a client connected is refused naming the connection, that the
// client goes on being answered, and then dumps the service idle (CRIU
// 4.2 is still run with the client connected).
const tcpEstablished = true

// client is one connection to a service. send sends one request; recv
// reads its answer, the count the service answers with: a counter held
// by the service, so that its state is checked with each answer.
type client interface {
	send() error
	recv() (int, error)
	local() string // the client's address, as the service sees its peer
	Close() error
}

// app is a program the suite runs as a service and migrates.
type app struct {
	name string
	port int
	// start starts the service on host A, serving svcAddr:port, and
	// returns the pid of its tree's root once it answers.
	start func(t *testing.T, ctx context.Context, h *hosts, dir string) int
	// dial opens a client connection from host A.
	dial func(h *hosts) (client, error)
	// perConn: the count is the connection's own (nginx's
	// $connection_requests), so a new connection starts at 1.
	perConn bool
	// refused says why a dump with a client connected is refused even
	// with --tcp-established ("" if it is not).
	refused string
	// no42 says why CRIU 4.2 is not measured on it ("" to measure).
	no42 string
	// finish checks the service once more on host B after the
	// migrations and stops it (postgres: a clean stop and a fresh start).
	finish func(t *testing.T, ctx context.Context, h *hosts, dir string, pid int)
}

// timing is one cell of the matrix the suite reports.
type timing struct {
	dump, restore time.Duration
	note          string
}

func (tm timing) String() string {
	if tm.note != "" && tm.dump == 0 {
		return tm.note
	}
	s := fmt.Sprintf("%d / %d", tm.dump.Milliseconds(), tm.restore.Milliseconds())
	if tm.note != "" {
		s += " (" + tm.note + ")"
	}
	return s
}

var (
	matrixMu sync.Mutex
	matrix   = map[string]map[string]timing{} // program -> column -> cell
)

var matrixCols = []string{"local", "remote (A→B)", "CRIU 4.2 local"}

func record(prog, col string, tm timing) {
	matrixMu.Lock()
	defer matrixMu.Unlock()
	if matrix[prog] == nil {
		matrix[prog] = map[string]timing{}
	}
	matrix[prog][col] = tm
}

// printMatrix writes the dump / restore times of the run, program by
// column.
func printMatrix() {
	matrixMu.Lock()
	defer matrixMu.Unlock()
	if len(matrix) == 0 {
		return
	}
	var progs []string
	for p := range matrix {
		progs = append(progs, p)
	}
	sort.Strings(progs)
	var b strings.Builder
	b.WriteString("\ndump / restore wall times, ms:\n\n| program |")
	for _, c := range matrixCols {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(matrixCols)) + "\n")
	for _, p := range progs {
		b.WriteString("| " + p + " |")
		for _, c := range matrixCols {
			cell, ok := matrix[p][c]
			if !ok {
				b.WriteString(" — |")
				continue
			}
			b.WriteString(" " + cell.String() + " |")
		}
		b.WriteString("\n")
	}
	fmt.Print(b.String())
}

// run runs argv (a criu command, maybe through nsenter) and times it.
func timed(ctx context.Context, argv []string) (string, time.Duration, error) {
	t0 := time.Now()
	out, err := crtest.Run(ctx, argv[0], argv[1:]...)
	return out, time.Since(t0), err
}

func logTail(file string) string {
	b, _ := os.ReadFile(file)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// portOf reads the port a test program wrote to file.
func portOf(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("port file: %q", b)
	}
	return port
}

// restoredPid reads a --pidfile.
func restoredPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("restore wrote no pidfile: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pidfile: %q", b)
	}
	return pid
}

// reapTree reaps the tasks of a tree that died (they come to us, the
// subreaper).
func reapTree(pids []int) {
	for _, p := range pids {
		crtest.Reap(p)
	}
}

// waitGone waits until every task of a dumped tree is gone.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		reapTree(pids)
		alive := 0
		for _, p := range pids {
			if crtest.Alive(p) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks of the dumped tree %v still run", alive, pids)
		}
	}
}

// migration is one dump and restore of a service tree.
type migration struct {
	criu   string   // the criu binary
	remote bool     // through image-proxy on A and image-cache on B
	extra  []string // flags for both dump and restore
	// frozen, if set, runs once the dump has frozen the tree (or has
	// already killed it): a client's request sent then is answered
	// only by the restored service. gone, if set, runs after the dump
	// has killed the tree and before the restore (before the address
	// moves): a request sent then finds no socket, and the network lock
	// must drop it, not answer it with a RST.
	frozen, gone func()
}

// errDump is a failed dump: the service still runs.
var errDump = errors.New("dump failed")

// run dumps the tree rooted at pid on host A (or where it runs: on ns),
// restores it on B when remote (after moving svcAddr there), else on ns,
// and returns the restored root's pid and the times. A failed dump is
// an errDump; anything else failing fails t.
func (m migration) run(t *testing.T, ctx context.Context, h *hosts, ns, dir, name string, pid int) (int, timing, error) {
	t.Helper()
	img := filepath.Join(dir, name)
	if err := os.Mkdir(img, 0o755); err != nil {
		t.Fatal(err)
	}
	tree := tmuxTree(pid)
	dump := []string{m.criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-v4", "-o", filepath.Join(dir, name+"-dump.log")}
	restore := []string{m.criu, "restore", "-D", img, "-d", "-v4", "-o", filepath.Join(dir, name+"-restore.log"), "--pidfile", filepath.Join(dir, name+".pid")}
	dst := ns
	if m.remote {
		port := "27027"
		startDaemon(t, ctx, m.criu, h.b, dir, "image-cache", "--address", hostB, "--port", port, "--local-socket", filepath.Join(dir, "cache.sock"), "--insecure")
		startDaemon(t, ctx, m.criu, h.a, dir, "image-proxy", "--address", hostB, "--port", port, "--local-socket", filepath.Join(dir, "proxy.sock"), "--insecure")
		dump = append(dump, "--remote", "--remote-socket", filepath.Join(dir, "proxy.sock"))
		restore = append(restore, "--remote", "--remote-socket", filepath.Join(dir, "cache.sock"))
		dst = h.b
	}
	dump, restore = append(dump, m.extra...), append(restore, m.extra...)
	var tm timing
	type result struct {
		out string
		d   time.Duration
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, d, err := timed(ctx, in(ns, dump...))
		done <- result{out, d, err}
	}()
	var r result
	if m.frozen != nil {
		r = waitFrozen(pid, done)
		m.frozen()
	}
	if r.d == 0 {
		r = <-done
	}
	if r.err != nil {
		return pid, tm, fmt.Errorf("%w: %s: %v\n%s\n%s", errDump, m.criu, r.err, r.out, logTail(filepath.Join(dir, name+"-dump.log")))
	}
	tm.dump = r.d
	waitGone(t, tree)
	if m.gone != nil {
		m.gone()
	}
	if m.remote {
		h.moveAddr(t)
	}
	out, d, err := timed(ctx, in(dst, restore...))
	if err != nil {
		t.Fatalf("%s restore: %v\n%s\n%s", m.criu, err, out, logTail(filepath.Join(dir, name+"-restore.log")))
	}
	tm.restore = d
	if m.remote {
		h.routeToB(t)
	}
	rpid := restoredPid(t, filepath.Join(dir, name+".pid"))
	if rpid != pid {
		t.Fatalf("restored as pid %d, dumped as %d", rpid, pid)
	}
	return rpid, tm, nil
}

// waitFrozen waits until the task pid is stopped by the dump (ptrace's
// "t") or gone, or the dump has ended (then it returns its result).
func waitFrozen[R any](pid int, done chan R) R {
	var zero R
	for {
		select {
		case r := <-done:
			return r
		default:
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil || strings.Contains(string(b), "\nState:\tt") || strings.Contains(string(b), "\nState:\tZ") {
			return zero
		}
		time.Sleep(time.Millisecond)
	}
}

// asker checks a service's counter: each answer is one more than the
// last one seen, or 1 on a new connection to a per-connection counter.
type asker struct {
	t    *testing.T
	a    *app
	last int
}

func (k *asker) ask(c client, fresh bool) {
	k.t.Helper()
	if err := c.send(); err != nil {
		k.t.Fatalf("%s: request from %s: %v", k.a.name, c.local(), err)
	}
	k.recv(c, fresh)
}

// recv reads the answer to a request sent before.
func (k *asker) recv(c client, fresh bool) {
	k.t.Helper()
	n, err := c.recv()
	if err != nil {
		k.t.Fatalf("%s: request from %s: %v", k.a.name, c.local(), err)
	}
	want := k.last + 1
	if k.a.perConn && fresh {
		want = 1
	}
	if n != want {
		k.t.Fatalf("%s: answer %d, want %d: the service lost its state", k.a.name, n, want)
	}
	k.last = n
}

// sendFrozen sends a request while the service is frozen by a dump or
// gone: it fails the test from any goroutine only through Errorf.
func (k *asker) sendFrozen(c client) {
	if err := c.send(); err != nil {
		k.t.Errorf("%s: request from %s while frozen: %v", k.a.name, c.local(), err)
	}
}

func (k *asker) dial(h *hosts) client {
	k.t.Helper()
	c, err := k.a.dial(h)
	if err != nil {
		k.t.Fatalf("%s: connect: %v", k.a.name, err)
	}
	k.t.Cleanup(func() { c.Close() })
	k.ask(c, true)
	return c
}

// testApp runs the suite's scenario on one program: it starts it as a
// service on host A (its own session, only fds 0-2, us its subreaper),
// connects a client and checkpoints it with bin/criu with the client
// connected, restores it on A, then migrates it through image-proxy and
// image-cache to host B, which has taken its address; the service's
// counter goes on through each, and a client on A keeps being answered.
// Then CRIU 4.2 dumps and restores it on B with a client connected
// (--tcp-established), for the times beside ours.
func testApp(t *testing.T, a *app) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	closeInherited()
	criu := crtest.Criu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "apps-"+a.name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	os.Chmod(dir, 0o755)
	h := newHosts(t)
	pid := a.start(t, ctx, h, dir)
	t.Cleanup(func() {
		for _, p := range tmuxTree(pid) {
			crtest.Kill(p)
		}
	})
	k := &asker{t: t, a: a}
	c := k.dial(h)
	k.ask(c, false)

	var ours []string
	if tcpEstablished {
		ours = []string{"--tcp-established"}
	}
	keep := tcpEstablished && a.refused == ""
	for _, remote := range []bool{false, true} {
		col, name := "local", "local"
		if remote {
			col, name = "remote (A→B)", "remote"
		}
		if !keep {
			// Refused by name, and the client is still answered.
			argv := in(h.a, append([]string{criu, "dump", "-t", strconv.Itoa(pid), "-D", t.TempDir()}, ours...)...)
			out, err := crtest.Run(ctx, argv[0], argv[1:]...)
			if err == nil {
				t.Fatalf("dump of %s with a client connected succeeded:\n%s", a.name, out)
			}
			// By name: the connection's peer, or its socket.
			host, port, _ := net.SplitHostPort(c.local())
			cport, _ := strconv.Atoi(port)
			named := strings.Contains(out, "TCP connection") && strings.Contains(out, host) && strings.Contains(out, ":"+port)
			if ino := connInode(pid, cport); ino != "" && strings.Contains(out, "socket:["+ino+"]") {
				named = true
			}
			if !named {
				t.Errorf("dump of %s refused without naming the connection from %s:\n%s", a.name, c.local(), out)
			}
			if !crtest.Alive(pid) {
				t.Fatalf("%s is gone after a refused dump", a.name)
			}
			k.ask(c, false)
			c.Close()
			quiet(t, pid, a.port)
		}
		m := migration{criu: criu, remote: remote, extra: ours}
		if keep {
			// Requests sent while the service is frozen, and while it
			// is gone (on A: the lock is the dump's), are answered by
			// the restored one, on the same connection.
			m.frozen = func() { k.sendFrozen(c) }
			if !remote {
				m.gone = func() { k.sendFrozen(c) }
			}
		}
		var tm timing
		var err error
		if pid, tm, err = m.run(t, ctx, h, h.a, dir, name, pid); err != nil {
			t.Fatal(err)
		}
		if keep {
			tm.note = "client kept"
			k.recv(c, false)
			if m.gone != nil {
				k.recv(c, false)
			}
		} else {
			tm.note = "client reconnects"
			c = k.dial(h)
		}
		k.ask(c, false)
		record(a.name, col, tm)
	}

	if a.no42 != "" {
		record(a.name, "CRIU 4.2 local", timing{note: a.no42})
	} else if _, err := os.Stat(criu42); err != nil {
		record(a.name, "CRIU 4.2 local", timing{note: "not installed"})
	} else {
		// With the client connected, and a request in flight.
		m := migration{criu: criu42, extra: []string{"--tcp-established"}, frozen: func() { k.sendFrozen(c) }, gone: func() { k.sendFrozen(c) }}
		p, tm, err := m.run(t, ctx, h, h.b, dir, "criu42", pid)
		switch {
		case errors.Is(err, errDump):
			// The reference's failure is a figure, not ours.
			msg := criu42Error(filepath.Join(dir, "criu42-dump.log"))
			t.Logf("CRIU 4.2 dump fails: %s", msg)
			record(a.name, "CRIU 4.2 local", timing{note: "fails: " + msg})
			k.recv(c, false)
		case err != nil:
			t.Fatal(err)
		default:
			tm.note = "client kept"
			record(a.name, "CRIU 4.2 local", tm)
			k.recv(c, false)
			k.recv(c, false)
			k.ask(c, false)
		}
		pid = p
	}
	if a.finish != nil {
		a.finish(t, ctx, h, dir, pid)
	}
}

// criu42Error is the first error CRIU 4.2 logged, without its source
// position: "Error (criu/cr-dump.c:388): Can't get rlimit 0: ...".
func criu42Error(log string) string {
	for _, l := range strings.Split(logTail(log), "\n") {
		if _, e, ok := strings.Cut(l, "Error ("); ok {
			if _, msg, ok := strings.Cut(e, "): "); ok {
				return msg
			}
		}
	}
	return "see " + log
}

// TestApps runs the suite: each program below as a service, migrated
// with a client connected. `make test-apps` runs it and prints the
// matrix of times.
func TestApps(t *testing.T) {
	t.Cleanup(printMatrix)
	for _, a := range apps() {
		t.Run(a.name, func(t *testing.T) { testApp(t, a) })
	}
	t.Run("tmux", testTmuxApp)
}

// testTmuxApp migrates a tmux server whose pane runs a counter, on A
// and then to B: the counter goes on, and keys sent to the pane reach
// it. Then CRIU 4.2 does the same on B, for the times.
func testTmuxApp(t *testing.T) {
	crtest.RequireRoot(t)
	bin := lookPath(t, "tmux", "tmux")
	crtest.Subreaper(t)
	closeInherited()
	criu := crtest.Criu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	h := newHosts(t)
	s := &tmuxServer{t: t, bin: bin, sock: filepath.Join(dir, "sock")}
	script := filepath.Join(dir, "pane.sh")
	if err := os.WriteFile(script, []byte(tmuxPane), 0o644); err != nil {
		t.Fatal(err)
	}
	a := in(h.a, bin, "-S", s.sock, "-f", "/dev/null", "new-session", "-d", "-s", "x", "-x", "80", "-y", "24", "bash "+script)
	if err := crtest.Start(t, a[0], a[1:]...).Wait(); err != nil {
		t.Fatalf("tmux new-session: %v", err)
	}
	server, err := strconv.Atoi(strings.TrimSpace(s.mustRun(ctx, "display-message", "-p", "-t", "x", "#{pid}")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range tmuxTree(server) {
			crtest.Kill(p)
		}
	})
	last := 3
	s.waitPane(ctx, "x:0", "tick 3", func(p string) bool { return strings.Contains(p, "tick 3") })
	goesOn := func(when string) {
		t.Helper()
		first := s.lastTick(ctx)
		if first < last {
			t.Fatalf("%s: the pane shows tick %d, it showed tick %d before", when, first, last)
		}
		s.waitPane(ctx, "x:0", fmt.Sprintf("tick %d", first+2), func(string) bool { return s.lastTick(ctx) >= first+2 })
		msg := "hello " + strings.ReplaceAll(when, " ", "-")
		s.mustRun(ctx, "send-keys", "-t", "x:0", msg, "Enter")
		s.waitPane(ctx, "x:0", "got:"+msg, func(p string) bool { return strings.Contains(p, "got:"+msg) })
		last = s.lastTick(ctx)
	}
	for _, remote := range []bool{false, true} {
		col, name := "local", "local"
		if remote {
			col, name = "remote (A→B)", "remote"
		}
		var tm timing
		if server, tm, err = (migration{criu: criu, remote: remote}).run(t, ctx, h, h.a, dir, name, server); err != nil {
			t.Fatal(err)
		}
		goesOn("after the " + name + " restore")
		record("tmux", col, tm)
	}
	if _, err := os.Stat(criu42); err != nil {
		record("tmux", "CRIU 4.2 local", timing{note: "not installed"})
	} else {
		var tm timing
		if server, tm, err = (migration{criu: criu42}).run(t, ctx, h, h.b, dir, "criu42", server); err != nil {
			t.Fatal(err)
		}
		goesOn("after CRIU 4.2")
		record("tmux", "CRIU 4.2 local", tm)
	}
	s.mustRun(ctx, "kill-server")
}
