package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

var zdtmDir string

func TestMain(m *testing.M) {
	d, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	zdtmDir = d
	// Build the C tests before any runner exists (see package runner).
	if out, err := makeTests(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	os.Exit(crtest.RunWithFdCheck(m))
}

func zdtm(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{nil, "Usage"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"run"}, "exactly one of"},
		{[]string{"run", "-a", "-t", "static/env00"}, "exactly one of"},
		{[]string{"run", "--zdtm-dir", zdtmDir, "-t", "static/nope", "--nocr"}, "no such test"},
		{[]string{"run", "--bin", "/nonexistent"}, "no such file"},
		{[]string{"run", "-t", "x", "--", "a"}, "need --bin"},
		{[]string{"run", "--zdtm-dir", zdtmDir, "-t", "static/env00", "-f", "h,nx", "--nocr"}, "unknown flavor \"nx\""},
		{[]string{"run", "--zdtm-dir", zdtmDir, "-t", "static/env00", "--nocr", "--remote"}, "does not go with"},
		{[]string{"run", "--bogus"}, "unknown flag"},
	} {
		code, _, errs := zdtm(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.msg) {
			t.Errorf("zdtm %q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.msg)
		}
	}
}

func TestList(t *testing.T) {
	code, out, errs := zdtm(t, "list", "--zdtm-dir", zdtmDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 25 || !strings.Contains(out, "static/env00\n") {
		t.Errorf("list printed %d tests:\n%s", len(lines), out)
	}
}

var summary = regexp.MustCompile(`(?m)^\d+ passed, \d+ failed(, \d+ skipped)?$`)

func TestRunNoCR(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := t.TempDir()
	code, out, errs := zdtm(t, "run", "--zdtm-dir", zdtmDir, "--dump-root", root, "--nocr", "-t", "static/env00", "-t", "umask00")
	if code != 0 || !strings.HasSuffix(out, "2 passed, 0 failed\n") || !summary.MatchString(out) {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = zdtm(t, "run", "--zdtm-dir", zdtmDir, "--dump-root", root, "--nocr", "--inject-corruption", "-t", "static/env00")
	if code == 0 || !strings.Contains(out, "FAIL static/env00 [h] at check") || !strings.HasSuffix(out, "0 passed, 1 failed\n") {
		t.Errorf("a corrupted env00: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, "static", "env00", "env00.out")); err != nil {
		t.Errorf("the run did not keep its files: %v", err)
	}
	bin, _ := filepath.Abs("../../runner/testdata/proto.sh")
	code, out, errs = zdtm(t, "run", "--dump-root", root, "--nocr", "--bin", bin, "--", "--result=FAIL: external")
	if code == 0 || !strings.Contains(out, "FAIL bin/proto.sh [h] at check") || !strings.Contains(out, "FAIL: external") {
		t.Errorf("--bin with args: exit %d\n%s%s", code, out, errs)
	}
}

// makeTests runs make -C zdtm under a lock: go test runs the zdtm
// packages in parallel and both build the same files.
func makeTests() ([]byte, error) {
	f, err := os.Open(filepath.Join(zdtmDir, "Makefile"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return nil, err
	}
	return exec.Command("make", "-C", zdtmDir, "-j2").CombinedOutput()
}

// TestCrossCRIU42 runs the whole suite (h flavor) with CRIU 4.2 alone,
// then dumped by CRIU 4.2 and restored by ours, then the reverse: every
// test CRIU 4.2 passes by itself passes both ways, so each tool reads the
// other's images for every object both handle. CRIU 4.2's own failures
// on this machine (its refusals, its bugs) are logged, not counted.
func TestCrossCRIU42(t *testing.T) {
	c42 := criu42(t)
	ours := crtest.Criu(t)
	// passed runs the suite with dump by one tool and restore by the
	// other and returns the tests that passed.
	passed := func(name, dump, restore string) map[string]bool {
		_, out, _ := zdtm(t, "run", "--zdtm-dir", zdtmDir, "--dump-root", t.TempDir(), "-f", "h", "--keep-going", "-a",
			"--dump-criu", dump, "--restore-criu", restore)
		ok := map[string]bool{}
		var failed []string
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "PASS" {
				ok[f[1]] = true
			} else if len(f) >= 2 && f[0] == "FAIL" {
				failed = append(failed, f[1])
			}
		}
		t.Logf("%s: %d passed, failed: %v", name, len(ok), failed)
		return ok
	}
	ref := passed("CRIU 4.2 alone", c42, c42)
	if len(ref) == 0 {
		t.Fatal("CRIU 4.2 passed no test alone")
	}
	for _, dir := range []struct{ name, dump, restore string }{
		{"criu42-to-ours", c42, ours},
		{"ours-to-criu42", ours, c42},
	} {
		got := passed(dir.name, dir.dump, dir.restore)
		for n := range ref {
			if got[n] {
				continue
			}
			// Once more, alone: the whole-suite run shares the machine
			// with the other packages' tests.
			code, out, errs := zdtm(t, "run", "--zdtm-dir", zdtmDir, "--dump-root", t.TempDir(), "-f", "h", "-t", n,
				"--dump-criu", dir.dump, "--restore-criu", dir.restore)
			if code != 0 {
				t.Errorf("%s: %s fails, which CRIU 4.2 passes by itself:\n%s%s", dir.name, n, out, errs)
			} else {
				t.Logf("%s: %s failed in the whole-suite run, passed alone", dir.name, n)
			}
		}
	}
	// A cross run with the image daemons is refused: they are ours.
	code, _, errs := zdtm(t, "run", "--zdtm-dir", zdtmDir, "-t", "static/env00", "--remote", "--criu", ours, "--dump-criu", c42)
	if code != 2 || !strings.Contains(errs, "does not go with --dump-criu") {
		t.Errorf("--remote --dump-criu: exit %d, %s", code, errs)
	}
}

// criu42 is CRIU 4.2's binary, or t skips.
func criu42(t *testing.T) string {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	c42 := crtest.CRIU42() // .ci/run sets $CRIU42 when ../shared has it
	if st, err := os.Stat(c42); err != nil || st.Mode()&0o111 == 0 {
		t.Skipf("CRIU 4.2 is not at %s (set $CRIU42): no cross-tool run", c42)
	}
	if out, err := exec.Command(c42, "--version").CombinedOutput(); err != nil {
		t.Skipf("CRIU 4.2 at %s does not run here (its libraries? see its README): %v %s", c42, err, out)
	}
	return c42
}

// TestCrossCRIU42Locks: with each lock method, the TCP tests (established, half
// closed, closed after a connection, IPv4 and IPv6) pass dumped by one
// tool and restored by the other, and no lock of theirs is left: each
// tool's restore lifts the other's lock (CRIU 4.2 deletes its nft table
// by name, and its iptables rules one by one, connection by connection).
func TestCrossCRIU42Locks(t *testing.T) {
	c42 := criu42(t)
	ours := crtest.Criu(t)
	dir := t.TempDir()
	wrap := func(name, criu, method string) string {
		p := filepath.Join(dir, name)
		sh := "#!/bin/sh\nexec " + criu + " \"$@\" --network-lock " + method + "\n"
		if err := os.WriteFile(p, []byte(sh), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The lines of the rules and tables of criu locks (ours or CRIU's).
	locks := func() map[string]bool {
		m := map[string]bool{}
		for _, args := range [][]string{{"iptables", "-w", "-S"}, {"ip6tables", "-w", "-S"}, {"nft", "list", "tables"}} {
			out, _ := exec.Command(args[0], args[1:]...).Output()
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "0xc114") || strings.Contains(l, "CRIU") {
					m[l] = true
				}
			}
		}
		return m
	}
	tests := []string{"-t", "static/socket_tcp00", "-t", "static/socket_tcp6_halfclosed00", "-t", "static/socket_tcp_closed01"}
	for _, m := range []string{"nftables", "iptables"} {
		if _, err := exec.LookPath(map[string]string{"nftables": "nft", "iptables": "iptables-restore"}[m]); err != nil {
			t.Logf("no %s: %v", m, err)
			continue
		}
		for _, dir := range []struct{ name, dump, restore string }{
			{"criu42-to-ours", wrap("c42-"+m, c42, m), ours},
			{"ours-to-criu42", wrap("ours-"+m, ours, m), c42},
		} {
			before := locks()
			code, out, errs := zdtm(t, append([]string{"run", "--zdtm-dir", zdtmDir, "--dump-root", t.TempDir(), "-f", "h", "-k",
				"--dump-criu", dir.dump, "--restore-criu", dir.restore}, tests...)...)
			if code != 0 {
				t.Errorf("%s, locked with %s:\n%s%s", dir.name, m, out, errs)
			}
			// Other criu runs of the machine lock and unlock meanwhile:
			// what stays a while is left.
			var left []string
			for i := 0; i < 20; i++ {
				left = left[:0]
				for l := range locks() {
					if !before[l] {
						left = append(left, l)
					}
				}
				if len(left) == 0 {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if len(left) > 0 {
				t.Errorf("%s, locked with %s: the restore left locks:\n%s", dir.name, m, strings.Join(left, "\n"))
			}
		}
	}
}
