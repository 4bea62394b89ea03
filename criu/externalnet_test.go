package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// TestExternalNetnsCLI dumps a counter in a network namespace of its
// own with CRIU's `--external net[INODE]:KEY` on the command line (the
// namespace is neither saved nor made), then restores it, with ours and
// with CRIU 4.2, given another namespace with `--inherit-fd fd[3]:KEY`:
// the restored counter is in that namespace and goes on. Before, the
// command line refused net[...] (only RPC took it).
func TestExternalNetnsCLI(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	criu := crtest.Criu(t)
	tools := restorers(criu)
	for name, restorer := range tools {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			cmd := exec.Command(bin, out, "1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: unix.CLONE_NEWNET}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := cmd.Process.Pid
			t.Cleanup(func() { crtest.Kill(pid) })
			crtest.WaitFor(t, out, "tick 3", 20*time.Second)
			var st unix.Stat_t
			if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
				t.Fatal(err)
			}
			img := filepath.Join(dir, "img")
			os.Mkdir(img, 0o755)
			ext := fmt.Sprintf("net[%d]:extnet", st.Ino)
			if res, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-o", "dump.log", "--external", ext); err != nil {
				log, _ := os.ReadFile(filepath.Join(img, "dump.log"))
				t.Fatalf("dump: %v\n%s\n%s", err, res, log)
			}
			cmd.Wait()
			if m, _ := filepath.Glob(filepath.Join(img, "ifaddr-*.img")); len(m) > 0 {
				t.Errorf("the external namespace's addresses were saved: %v", m)
			}
			nsName := fmt.Sprintf("criugo-extnet-%d", os.Getpid())
			if o, err := exec.Command("ip", "netns", "add", nsName).CombinedOutput(); err != nil {
				t.Fatalf("ip netns add: %v: %s", err, o)
			}
			t.Cleanup(func() { exec.Command("ip", "netns", "del", nsName).Run() })
			nsf, err := os.Open(filepath.Join("/run/netns", nsName))
			if err != nil {
				t.Fatal(err)
			}
			defer nsf.Close()
			var want unix.Stat_t
			if err := unix.Fstat(int(nsf.Fd()), &want); err != nil {
				t.Fatal(err)
			}
			before := ticks(out)
			pidfile := filepath.Join(dir, "pid")
			r := exec.Command(restorer, "restore", "-D", img, "-o", "restore.log", "-v4", "-d", "--pidfile", pidfile, "--inherit-fd", "fd[3]:extnet")
			r.ExtraFiles = []*os.File{nsf}
			rp := restoreDetached(t, r, img, pidfile, "")
			var got unix.Stat_t
			if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", rp), &got); err != nil {
				t.Fatal(err)
			}
			if got.Ino != want.Ino {
				t.Errorf("restored in network namespace %d, want the inherited %d", got.Ino, want.Ino)
			}
			crtest.WaitFor(t, out, "tick "+strconv.Itoa(before+5), 20*time.Second)
		})
	}
}

// TestExternalNetdevCLI: a counter in a network namespace of its own
// has a veth whose peer is outside; before the restore a new veth pair
// is made outside, and `--external netdev[IN]:DEV` moves DEV in as IN
// with IN's old index, address and MTU (CRIU's upstream cr_veth02). The
// outside namespace is one the test made: criu runs in it (ip netns
// exec), as it would in a host's. Restored by ours and by CRIU 4.2.
func TestExternalNetdevCLI(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	criu := crtest.Criu(t)
	tools := restorers(criu)
	for name, restorer := range tools {
		t.Run(name, func(t *testing.T) {
			host := fmt.Sprintf("criugo-netdev-%d", os.Getpid())
			ipc := func(args ...string) string {
				t.Helper()
				o, err := exec.Command("ip", args...).CombinedOutput()
				if err != nil {
					t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, o)
				}
				return string(o)
			}
			ipc("netns", "add", host)
			t.Cleanup(func() { exec.Command("ip", "netns", "del", host).Run() })
			ipc("-n", host, "link", "set", "lo", "up") // CRIU 4.2 probes TCP repair on 127.0.0.1
			dir := t.TempDir()
			out := filepath.Join(dir, "out.txt")
			// nsenter and unshare exec, without a fork: the counter is
			// cmd's process, in criu's mount namespace (ip netns exec
			// would make one of its own).
			hostNet := "--net=/run/netns/" + host
			cmd := exec.Command("nsenter", hostNet, "unshare", "-n", bin, out, "1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			crtest.WaitFor(t, out, "tick 3", 20*time.Second)
			pid := cmd.Process.Pid
			t.Cleanup(func() { crtest.Kill(pid) })
			ipc("-n", host, "link", "add", "cgv0", "type", "veth", "peer", "name", "cgp0")
			ipc("-n", host, "link", "set", "cgv0", "netns", strconv.Itoa(pid))
			in := func(p int, args ...string) string {
				t.Helper()
				o, err := exec.Command("nsenter", append([]string{"-n", "-t", strconv.Itoa(p), "ip"}, args...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("ip %s in %d's netns: %v: %s", strings.Join(args, " "), p, err, o)
				}
				return string(o)
			}
			in(pid, "addr", "add", "198.18.9.1/24", "dev", "cgv0")
			in(pid, "link", "set", "cgv0", "mtu", "1300", "up")
			want := in(pid, "-o", "addr", "show", "dev", "cgv0")
			wantLink := in(pid, "-o", "link", "show", "dev", "cgv0")
			img := filepath.Join(dir, "img")
			os.Mkdir(img, 0o755)
			if res, err := exec.Command("nsenter", hostNet, criu, "dump", "-t", strconv.Itoa(pid), "-D", img, "-o", "dump.log").CombinedOutput(); err != nil {
				log, _ := os.ReadFile(filepath.Join(img, "dump.log"))
				t.Fatalf("dump: %v\n%s\n%s", err, res, log)
			}
			cmd.Wait()
			for crtest.Alive(pid) {
				time.Sleep(10 * time.Millisecond)
			}
			// Another index outside than cgv0 had inside.
			ipc("-n", host, "link", "add", "cgm0", "type", "veth", "peer", "name", "cgm1")
			before := ticks(out)
			pidfile := filepath.Join(dir, "pid")
			r := exec.Command("nsenter", hostNet, restorer, "restore", "-D", img, "-o", "restore.log", "-v4", "-d", "--pidfile", pidfile, "--external", "netdev[cgv0]:cgm0")
			rp := restoreDetached(t, r, img, pidfile, "")
			if got := in(rp, "-o", "addr", "show", "dev", "cgv0"); got != want {
				t.Errorf("restored cgv0's addresses:\n%s\nwant\n%s", got, want)
			}
			// The peer's index and name are the new pair's: compare up to "@".
			got := in(rp, "-o", "link", "show", "dev", "cgv0")
			if g, w := strings.Fields(got), strings.Fields(wantLink); len(g) < 2 || len(w) < 2 || g[0] != w[0] || !strings.HasPrefix(g[1], "cgv0@") {
				t.Errorf("restored cgv0:\n%s\nwant index and name of\n%s", got, wantLink)
			}
			if !strings.Contains(got, "mtu 1300") {
				t.Errorf("restored cgv0 without its MTU: %s", got)
			}
			if o := ipc("-n", host, "-o", "link", "show"); strings.Contains(o, "cgm0") || !strings.Contains(o, "cgm1") {
				t.Errorf("outside after the restore (cgm0 moved in, cgm1 left):\n%s", o)
			}
			crtest.WaitFor(t, out, "tick "+strconv.Itoa(before+5), 20*time.Second)
		})
	}
}

// restorers are the criu binaries a cross-tool test restores with: ours,
// and CRIU 4.2 where it is installed.
func restorers(criu string) map[string]string {
	tools := map[string]string{"ours": criu}
	if _, err := os.Stat(crtest.CRIU42()); err == nil {
		tools["criu-4.2"] = crtest.CRIU42()
	}
	return tools
}

// restoreDetached runs cmd, a `criu restore -d --pidfile PIDFILE -o
// restore.log` whose images are in dir, and stops the test with its
// output and dir/restore.log if it fails. It returns the restored root's
// pid, killed when the test ends.
func restoreDetached(t *testing.T, cmd *exec.Cmd, dir, pidfile, what string) int {
	t.Helper()
	if res, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "restore.log"))
		t.Fatalf("%srestore: %v\n%s\n%s", what, err, res, log)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	t.Cleanup(func() { crtest.Kill(pid) })
	return pid
}
