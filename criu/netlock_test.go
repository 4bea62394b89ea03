package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/netlock"
)

// echoTree starts a tree whose root holds heapMiB MiB (its memory is the
// dump's longest step) and whose child is socat, an echo server on
// 127.0.0.1 that a client of ours is connected to. It returns the root's
// pid and the connection.
func echoTree(t *testing.T, heapMiB int) (int, net.Conn) {
	t.Helper()
	crtest.RequireRoot(t)
	for _, tool := range []string{"nft", "socat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (.ci/run installs it): %v", tool, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	big := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	out := filepath.Join(t.TempDir(), "out.txt")
	cmd := crtest.Start(t, "/bin/sh", "-c", fmt.Sprintf("socat TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr PIPE & exec %s %s %d", port, big, out, heapMiB))
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		exec.Command("pkill", "-KILL", "-P", fmt.Sprint(pid)).Run()
		crtest.Kill(pid)
	})
	crtest.WaitFor(t, out, "READY", 30*time.Second)
	var c net.Conn
	for i := 0; ; i++ {
		if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		if i > 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { c.Close() })
	if err := crtest.EchoLine(c, "hello", 5*time.Second); err != nil {
		t.Fatalf("before the dump: %v", err)
	}
	return pid, c
}

// hasTable reports whether this namespace has the nft table of the
// lock of run id (other tests' criu may lock meanwhile: only id counts).
func hasTable(t *testing.T, id string) bool {
	t.Helper()
	out, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables: %v: %s", err, out)
	}
	return strings.Contains(string(out), "table "+nftTable(id)+"\n")
}

// nftTable is the nft table of the lock of run id, as CRIU 4.2 names it
// (package netlock): "inet CRIU-" and the id, 31 characters at most.
func nftTable(id string) string {
	t := "inet CRIU-" + id
	return t[:min(len(t), 31)]
}

// A criu killed (SIGKILL) in the middle of a dump, with the connection
// of its tree locked: killing the criu the user started reaches its
// worker as SIGTERM, which lifts the lock as it lets the tree go; a
// SIGKILL of the worker itself (pkill -9 criu) leaves the lock behind,
// and the next criu run (here criu check) removes it. Either way the
// service answers on the same connection: what the client sent
// meanwhile is retransmitted and echoed.
func TestNetworkLockKilledDump(t *testing.T) {
	for _, who := range []string{"worker", "criu"} {
		t.Run(who, func(t *testing.T) {
			pid, c := echoTree(t, 512)
			criu := crtest.Criu(t)
			dir := t.TempDir()
			dump := exec.Command(criu, "dump", "-t", fmt.Sprint(pid), "-D", dir, "-v4", "-o", "dump.log")
			if err := dump.Start(); err != nil {
				t.Fatal(err)
			}
			// Killed as soon as the lock is made: the root's 512 MiB
			// are dumped before socat's connection is refused.
			id := ""
			deadline := time.Now().Add(20 * time.Second)
			for id == "" && time.Now().Before(deadline) {
				id = lockID(t, filepath.Join(dir, "dump.log"))
			}
			// The worker: the child of one of the threads of the criu started.
			b, _ := exec.Command("sh", "-c", fmt.Sprintf("cat /proc/%d/task/*/children", dump.Process.Pid)).Output()
			f := strings.Fields(string(b))
			if len(f) != 1 {
				t.Fatalf("the dump's worker: %q", b)
			}
			var worker int
			fmt.Sscan(f[0], &worker)
			victim := dump.Process.Pid
			if who == "worker" {
				victim = worker
			}
			syscall.Kill(victim, syscall.SIGKILL)
			err := dump.Wait()
			for i := 0; crtest.Alive(worker) && i < 2000; i++ {
				time.Sleep(5 * time.Millisecond) // the worker lets the tree go
			}
			log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
			if err == nil || strings.Contains(string(log), "dump done") {
				t.Fatalf("the dump was not killed mid-dump (%v); its log:\n%s", err, log)
			}
			if id == "" {
				t.Fatalf("no network lock while dumping; the log:\n%s", log)
			}
			if who == "criu" {
				// The worker unlocked as it let the tree go.
				if hasTable(t, id) {
					t.Fatalf("after the kill: the lock is left; the log:\n%s", log)
				}
				if err := crtest.EchoLine(c, "after", 5*time.Second); err != nil {
					t.Fatalf("after the dump was killed: %v", err)
				}
				return
			}
			// Sent under the dead dump's lock (unless another test's
			// criu has swept it already): no answer, and no reset.
			locked := hasTable(t, id)
			if !locked {
				t.Log("the lock was swept before this test's criu check (another criu ran)")
			}
			err = crtest.EchoLine(c, "locked", 1500*time.Millisecond)
			echoed := err == nil // swept meanwhile by another criu
			if locked && !errors.Is(err, os.ErrDeadlineExceeded) && hasTable(t, id) {
				t.Fatalf("echo under the dead dump's lock: %v, want a timeout", err)
			}
			t0 := time.Now()
			out, err := exec.Command(criu, "check").CombinedOutput()
			if err != nil {
				t.Logf("criu check: %v: %s", err, out) // its verdict on the kernel is not the point
			}
			// The client's retransmissions back off (0.2 s, doubling):
			// the next may come tens of seconds after the unlock.
			t.Logf("criu check took %v", time.Since(t0))
			if hasTable(t, id) {
				t.Fatalf("after criu check: the lock is left\n%s", out)
			}
			if locked && !strings.Contains(string(out), "removed the network lock of a criu that died") {
				t.Logf("criu check did not say it removed the lock (another criu did?):\n%s", out)
			}
			if !echoed {
				if err := crtest.ReadLine(c, "locked", 40*time.Second); err != nil {
					t.Fatalf("after the sweep: %v", err)
				}
			}
			if err := crtest.EchoLine(c, "again", 5*time.Second); err != nil {
				t.Fatalf("after the sweep: %v", err)
			}
		})
	}
}

// A dump that fails (here: established TCP is refused) lifts the lock
// once the tree runs again: the service answers on the same connection.
func TestNetworkLockFailedDump(t *testing.T) {
	pid, c := echoTree(t, 16)
	criu := crtest.Criu(t)
	out, err := exec.CommandContext(context.Background(), criu, "dump", "-t", fmt.Sprint(pid), "-D", t.TempDir(), "-v4").CombinedOutput()
	if err == nil {
		t.Skip("the dump of an established connection succeeded: this test is for a failed one")
	}
	if !strings.Contains(string(out), "network locked") || !strings.Contains(string(out), "network unlocked") {
		t.Errorf("the dump did not lock and unlock the network:\n%s", out)
	}
	id := ""
	for _, l := range strings.Split(string(out), "\n") {
		if i := strings.Index(l, "network locked"); i >= 0 {
			if _, v, ok := strings.Cut(l[i:], "id="); ok {
				id = strings.Fields(v)[0]
			}
		}
	}
	if id == "" || hasTable(t, id) {
		t.Fatalf("after a failed dump: lock %q left, or none was made", id)
	}
	if err := crtest.EchoLine(c, "after", 5*time.Second); err != nil {
		t.Fatalf("after a failed dump: %v", err)
	}
}

// A tree with a network namespace of its own: the dump locks the whole
// namespace and, the dump done, records the lock as waiting for its
// restore; the restore locks the namespace it makes until the tasks run,
// then lifts it and drops the record.
func TestNetworkLockNetns(t *testing.T) {
	crtest.RequireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skipf("no nft (.ci/run installs it): %v", err)
	}
	big := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	out := filepath.Join(t.TempDir(), "out.txt")
	cmd := crtest.Start(t, "unshare", "-n", "--", big, out, "1")
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, out, "READY", 10*time.Second)
	criu := crtest.Criu(t)
	dir := t.TempDir()
	if b, err := exec.Command(criu, "dump", "-t", fmt.Sprint(pid), "-D", dir, "-v4", "-o", "dump.log").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
		t.Fatalf("dump: %v: %s\n%s", err, b, log)
	}
	cmd.Wait()
	log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
	id := lockID(t, filepath.Join(dir, "dump.log"))
	if id == "" || !strings.Contains(string(log), "netns=true") {
		t.Fatalf("the dump did not lock its netns:\n%s", log)
	}
	rec := filepath.Join("/run/criu-netlock", id+".json")
	// The record says the lock waits for its restore; any criu's sweep
	// drops it once the namespace's task is gone (as here: killed).
	if b, err := os.ReadFile(rec); err == nil && !strings.Contains(string(b), `"state":"dumped"`) {
		t.Fatalf("record after the dump: %s", b)
	} else if err != nil {
		t.Logf("record after the dump: %v (swept by another criu)", err)
	}
	pidfile := filepath.Join(dir, "pid")
	if b, err := exec.Command(criu, "restore", "-D", dir, "-d", "-v4", "-o", "restore.log", "--pidfile", pidfile).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
		t.Fatalf("restore: %v: %s\n%s", err, b, log)
	}
	b, _ := os.ReadFile(pidfile)
	var rpid int
	fmt.Sscan(string(b), &rpid)
	t.Cleanup(func() { crtest.Kill(rpid) })
	rlog, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
	if !strings.Contains(string(rlog), "network locked") || !strings.Contains(string(rlog), "network unlocked") {
		t.Errorf("the restore did not lock and unlock its netns:\n%s", rlog)
	}
	tables, err := exec.Command("nsenter", "-t", fmt.Sprint(rpid), "-n", "nft", "list", "tables").CombinedOutput()
	if err != nil || strings.Contains(string(tables), "CRIU-") {
		t.Fatalf("tables in the restored netns: %s, %v", tables, err)
	}
	if _, err := os.Stat(rec); !os.IsNotExist(err) {
		t.Errorf("record left after the restore: %v", err)
	}
}

// TestNetworkLockMigrate: the client keeps talking while its server is
// dumped (--tcp-established, the tree killed) and until the restore. With
// the lock, what it sends meanwhile is dropped, retransmitted once the
// restored server runs, and echoed in order; the lock waits for the
// restore in between. With --network-lock skip the same bytes reach a
// port with no socket, and the client's connection is reset: the lock
// is what keeps it.
func TestNetworkLockMigrate(t *testing.T) {
	for _, method := range []string{"nftables", "iptables", "skip"} {
		t.Run(method, func(t *testing.T) {
			if method == "iptables" {
				if _, err := exec.LookPath("iptables-restore"); err != nil {
					t.Skipf("no iptables-restore: %v", err)
				}
			}
			crtest.Subreaper(t)
			pid, c := echoTree(t, 16)
			criu := crtest.Criu(t)
			dir := t.TempDir()
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
			var child int
			fmt.Sscan(string(b), &child)
			// Sent just before the freeze: its echo, or the ACK of
			// it, is in flight during the dump.
			io.WriteString(c, "one\n")
			out, err := exec.Command(criu, "dump", "-t", fmt.Sprint(pid), "-D", dir, "-o", "dump.log", "-v4", "--tcp-established", "--network-lock", method).CombinedOutput()
			if err != nil {
				log, _ := os.ReadFile(filepath.Join(dir, "dump.log"))
				t.Fatalf("dump: %v: %s\n%s", err, out, log)
			}
			if id := lockID(t, filepath.Join(dir, "dump.log")); id != "" {
				t.Cleanup(func() { // a failed restore keeps the lock
					// By its record: the host-flavor iptables lock is
					// a pair of rules per connection.
					m, _ := netlock.ParseMethod(method)
					netlock.UnlockDumped(context.Background(), m, id, zerolog.Nop())
					exec.Command("nft", "delete", "table", nftTable(id)).Run()
					ch := ("CRIU-" + id)[:28]
					for _, ipt := range []string{"iptables", "ip6tables"} {
						for _, args := range [][]string{{"-D", "INPUT", "-j", ch}, {"-D", "OUTPUT", "-j", ch}, {"-F", ch}, {"-X", ch}} {
							exec.Command(ipt, append([]string{"-w"}, args...)...).Run()
						}
					}
					os.Remove(filepath.Join("/run/criu-netlock", id+".json"))
				})
			}
			crtest.Reap(pid)
			crtest.Reap(child) // our orphan (Subreaper)
			_, werr := io.WriteString(c, "two\n")
			if method == "skip" && (errors.Is(werr, syscall.ECONNRESET) || errors.Is(werr, syscall.EPIPE)) {
				// Without a lock, the client's ACK of the echo of "one"
				// can reach the port with no socket first: the reset
				// is reported to this write, not to a later read.
				return
			}
			time.Sleep(300 * time.Millisecond) // the peer's answer, if any, is back
			id := lockID(t, filepath.Join(dir, "dump.log"))
			if method == "nftables" && !hasTable(t, id) {
				t.Fatalf("the lock %q did not wait for the restore", id)
			}
			// A failed restore (the connection needs --tcp-established)
			// keeps the lock, as CRIU: the next restore can still take
			// the connection over.
			if out, err := exec.Command(criu, "restore", "-D", dir, "-d").CombinedOutput(); err == nil {
				t.Fatalf("restore without --tcp-established succeeded:\n%s", out)
			}
			if method == "nftables" && !hasTable(t, id) {
				t.Fatalf("a failed restore lifted the lock %q", id)
			}
			out, err = exec.Command(criu, "restore", "-D", dir, "-d", "-o", "restore.log", "-v4", "--tcp-established").CombinedOutput()
			if err != nil {
				log, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
				t.Fatalf("restore: %v: %s\n%s", err, out, log)
			}
			t.Cleanup(func() { crtest.Kill(child) }) // restored with its pid; echoTree kills the root
			if id != "" && hasTable(t, id) {
				t.Fatalf("after the restore: lock %s left", id)
			}
			c.SetDeadline(time.Now().Add(15 * time.Second))
			r := bufio.NewReader(c)
			var got []string
			for len(got) < 2 {
				l, err := r.ReadString('\n')
				if err != nil {
					if method == "skip" && errors.Is(err, syscall.ECONNRESET) {
						return // as expected without a lock
					}
					t.Fatalf("after the restore: got %q, then %v", got, err)
				}
				got = append(got, l)
			}
			if method == "skip" {
				t.Fatalf("without a lock the connection survived (%q): the test shows nothing", got)
			}
			if got[0] != "one\n" || got[1] != "two\n" {
				t.Fatalf("after the restore: %q, want one, two", got)
			}
			c.SetDeadline(time.Time{})
			if err := crtest.EchoLine(c, "three", 5*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// lockID is the run id of the network lock a criu log says it made, or
// "" when it made none.
func lockID(t *testing.T, logFile string) string {
	b, _ := os.ReadFile(logFile)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "network locked") {
			for _, f := range strings.Fields(l) {
				if v, ok := strings.CutPrefix(f, "id="); ok {
					return v
				}
			}
		}
	}
	return ""
}
