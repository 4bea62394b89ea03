package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// Built once in TestMain, before any Runner exists: the reaper would
// take os/exec's children afterwards.
var (
	zdtmDir    string
	buildErr   error  // make -C zdtm failed
	criuBin    string // a criu whose dump and restore exist, or ""
	criuReason string // why criuBin is empty
)

func TestMain(m *testing.M) {
	d, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	zdtmDir = d
	if out, err := makeTests(); err != nil {
		buildErr = fmt.Errorf("make -C %s: %v\n%s", zdtmDir, err, out)
	}
	criuBin, criuReason = findCriu()
	os.Exit(crtest.RunWithFdCheck(m))
}

// findCriu returns ZDTM_CRIU or the module's bin/criu if both its dump
// and restore commands exist.
func findCriu() (string, string) {
	c := os.Getenv("ZDTM_CRIU")
	if c == "" {
		c = filepath.Join(zdtmDir, "..", "bin", "criu")
	}
	if _, err := os.Stat(c); err != nil {
		return "", fmt.Sprintf("no criu binary at %s (go build -o bin/criu ./criu, or set ZDTM_CRIU)", c)
	}
	for _, cmd := range []string{"dump", "restore"} {
		if out, err := exec.Command(c, cmd, "--help").CombinedOutput(); err != nil {
			return "", fmt.Sprintf("%s has no working %q command yet: %v: %s", c, cmd, err, bytes.TrimSpace(out))
		}
	}
	return c, ""
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (checkpoint/restore and a child subreaper that reaps every test)")
	}
}

func needBuild(t *testing.T) {
	t.Helper()
	needRoot(t)
	if buildErr != nil {
		t.Fatalf("the C tests do not build: %v", buildErr)
	}
}

func newRunner(t *testing.T, o Options) (*Runner, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	o.ZdtmDir = zdtmDir
	o.Out = &out
	if o.DumpRoot == "" {
		o.DumpRoot = t.TempDir()
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	r, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, &out
}

func suite(t *testing.T) []Test {
	t.Helper()
	s, err := Suite(zdtmDir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuiteList(t *testing.T) {
	s := suite(t)
	if len(s) < 25 {
		t.Errorf("the suite has %d tests, want at least 25", len(s))
	}
	env, err := Find(s, []string{"static/env00"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(env[0].Args, " "); got != "--envname=ENV_00_TEST" {
		t.Errorf("env00 args %q, want --envname=ENV_00_TEST", got)
	}
	for _, name := range []string{"env00", "zdtm/static/env00", "static/env00.c"} {
		if ts, err := Find(s, []string{name}); err != nil || ts[0].Name != "static/env00" {
			t.Errorf("Find(%q) = %v, %v", name, ts, err)
		}
	}
	if _, err := Find(s, []string{"static/nope"}); err == nil {
		t.Error("Find of a missing test did not fail")
	}
}

func TestParseDesc(t *testing.T) {
	for _, tc := range []struct {
		in      string
		args    []string
		flavors []string
		opts    []string
		bad     bool
	}{
		{in: "args: --a=1 --b\n", args: []string{"--a=1", "--b"}},
		{in: "# comment\n\nflavors: h ns\nneeds: avx\n", flavors: []string{"h", "ns"}},
		{in: "opts: --file-locks\nargs: --x\n", args: []string{"--x"}, opts: []string{"--file-locks"}},
		{in: "bogus\n", bad: true},
		{in: "color: red\n", bad: true},
	} {
		f, err := os.CreateTemp(t.TempDir(), "desc")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(tc.in)
		f.Seek(0, 0)
		var tt Test
		err = parseDesc(f, &tt)
		f.Close()
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v, want bad=%v", tc.in, err, tc.bad)
			continue
		}
		if strings.Join(tt.Args, ",") != strings.Join(tc.args, ",") || strings.Join(tt.Flavors, ",") != strings.Join(tc.flavors, ",") ||
			strings.Join(tt.Opts, ",") != strings.Join(tc.opts, ",") {
			t.Errorf("%q: got args %v flavors %v opts %v", tc.in, tt.Args, tt.Flavors, tt.Opts)
		}
	}
}

func TestOutcome(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		out  string
		pass bool
	}{
		{"PASS\n", true},
		{"some message\nPASS\n", true},
		{"FAIL: x.c:1: broken\nPASS\n", false},
		{"FAIL: x.c:1: broken\n", false},
		{"", false},
		{"PASSED\n", false},
	} {
		p := filepath.Join(dir, "out")
		os.WriteFile(p, []byte(tc.out), 0o644)
		if pass, _, err := outcome(p); err != nil || pass != tc.pass {
			t.Errorf("outcome(%q) = %v, %v; want %v", tc.out, pass, err, tc.pass)
		}
	}
	if _, _, err := outcome(filepath.Join(dir, "missing")); err == nil {
		t.Error("outcome of a missing file did not fail")
	}
}

func TestErrorLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dump.log")
	os.WriteFile(p, []byte("10:00:00 DBG a\n10:00:01 ERR seize 42: EPERM\n10:00:02 INF b\n(00.1) Error (criu/cr-dump.c:1): x\n"), 0o644)
	got := errorLines(p, 20)
	if len(got) != 2 || !strings.Contains(got[0], "seize 42") || !strings.Contains(got[1], "cr-dump.c") {
		t.Errorf("errorLines = %q", got)
	}
	os.WriteFile(p, []byte("a\nb\nc\n"), 0o644)
	if got := errorLines(p, 2); len(got) != 3 || got[2] != "c" {
		t.Errorf("errorLines without errors = %q, want a note and the last 2 lines", got)
	}
}

func TestSummaryLine(t *testing.T) {
	if s := (Summary{Passed: 3, Failed: 1}).String(); s != "3 passed, 1 failed" {
		t.Errorf("got %q", s)
	}
	if s := (Summary{Passed: 3, Skipped: 2}).String(); s != "3 passed, 0 failed, 2 skipped" {
		t.Errorf("got %q", s)
	}
}

func TestCriuArgs(t *testing.T) {
	got := strings.Join(dumpArgs("criu", "dump", 42, "/d/1", "", false, ""), " ")
	if want := "criu dump --tree 42 --images-dir /d/1 --log-file dump.log -v4"; got != want {
		t.Errorf("dump: %q, want %q", got, want)
	}
	got = strings.Join(dumpArgs("criu", "dump", 42, "/d/2", "../1", true, "/s"), " ")
	if want := "criu dump --tree 42 --images-dir /d/2 --log-file dump.log -v4 --prev-images-dir ../1 --track-mem --remote --remote-socket /s"; got != want {
		t.Errorf("dump after pre-dump: %q, want %q", got, want)
	}
	got = strings.Join(restoreArgs("criu", "/d/1", "/d/1/restore.pid", ""), " ")
	if want := "criu restore --images-dir /d/1 --log-file restore.log -v4 --restore-detached --pidfile /d/1/restore.pid"; got != want {
		t.Errorf("restore: %q, want %q", got, want)
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []Options{
		{Flavor: "ns,q", NoCR: true, DumpRoot: "/tmp/x"},
		{Flavor: "h,h", NoCR: true, DumpRoot: "/tmp/x"},
		{Flavor: "uns", NoCR: true, DumpRoot: "/tmp/x"},
		{NoCR: true, Remote: true, DumpRoot: "/tmp/x"},
		{Criu: "/nonexistent/criu", DumpRoot: "/tmp/x"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) did not fail", o)
		} else if o.Flavor != "" && !strings.Contains(err.Error(), "flavor") {
			t.Errorf("flavor %q refused with an unclear message: %v", o.Flavor, err)
		}
	}
}

func TestParseFlavors(t *testing.T) {
	for in, want := range map[string]string{"": "h", "h": "h", "ns": "ns", "h,ns": "h ns", "ns, h": "ns h", "ct": "ct", "h,ns,ct": "h ns ct"} {
		got, err := parseFlavors(in)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("parseFlavors(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "h,", "ns,ns", "uns", "ct,ct"} {
		if got, err := parseFlavors(in); err == nil {
			t.Errorf("parseFlavors(%q) = %v, want an error", in, got)
		}
	}
}

// runsIn counts the (test, flavor) pairs r runs of the suite in
// flavors here (not skipped for a flavor, a kernel feature or a CPU flag).
func runsIn(r *Runner, s []Test, flavors ...string) int {
	n := 0
	for _, f := range flavors {
		for _, t := range s {
			if r.skipReason(t, f) == nil {
				n++
			}
		}
	}
	return n
}

// TestSuiteNoCR runs every test without checkpointing, in both
// flavors: each must pass on its own.
func TestSuiteNoCR(t *testing.T) {
	needBuild(t)
	r, out := newRunner(t, Options{NoCR: true, KeepGoing: true, Flavor: "h,ns"})
	s := suite(t)
	sum, err := r.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	n := runsIn(r, s, "h", "ns")
	if sum.Passed != n || sum.Failed != 0 || sum.Skipped != 2*len(s)-n {
		t.Errorf("without C/R: %s, want %d passed\n%s", sum, n, out)
	}
	if !strings.HasSuffix(out.String(), fmt.Sprintf("%d passed, 0 failed, %d skipped\n", n, 2*len(s)-n)) &&
		!strings.HasSuffix(out.String(), fmt.Sprintf("%d passed, 0 failed\n", n)) {
		t.Errorf("no summary line at the end:\n%s", out)
	}
	for _, want := range []string{"PASS static/env00 [h]", "PASS static/env00 [ns]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// TestFlavorNSChecked runs a protocol binary that ignores ZDTM_FLAVOR in
// the ns flavor: the runner must see that it shares the host's
// namespaces and fail it at start, leaving nothing behind.
func TestFlavorNSChecked(t *testing.T) {
	needRoot(t)
	bin, _ := filepath.Abs("testdata/proto.sh")
	test, err := BinaryTest(bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	r, out := newRunner(t, Options{NoCR: true, Flavor: "ns", DumpRoot: root})
	sum, err := r.Run(context.Background(), []Test{test})
	if err != nil {
		t.Fatal(err)
	}
	res := sum.Results[0]
	if res.Status != "FAIL" || res.Stage != StageStart || !strings.Contains(res.Err.Error(), "ZDTM_FLAVOR") {
		t.Fatalf("%s at %q: %v\n%s", res.Status, res.Stage, res.Err, out)
	}
	pid, err := readPid(filepath.Join(root, "ns", "bin", "proto.sh", "proto.sh.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("test task %d still runs after the failure", pid)
	}
}

// TestFlavorCTChecked runs a test that makes namespaces of its own but
// no container (a wrapper starts it with ZDTM_FLAVOR=ns) in the ct
// flavor: the runner must see that the root of its mount namespace is
// not the rootfs and fail it at start, leaving nothing behind.
func TestFlavorCTChecked(t *testing.T) {
	needBuild(t)
	bin, _ := filepath.Abs("testdata/as-ns.sh")
	t.Setenv("ZDTM_AS_NS", filepath.Join(zdtmDir, "build", "static", "sleeping00"))
	test, err := BinaryTest(bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	r, out := newRunner(t, Options{NoCR: true, Flavor: "ct", DumpRoot: root})
	sum, err := r.Run(context.Background(), []Test{test})
	if err != nil {
		t.Fatal(err)
	}
	res := sum.Results[0]
	if res.Status != "FAIL" || res.Stage != StageStart || !strings.Contains(res.Err.Error(), "is not the rootfs") {
		t.Fatalf("%s at %q: %v\n%s", res.Status, res.Stage, res.Err, out)
	}
	pid, err := readPid(filepath.Join(root, "ct", "bin", "as-ns.sh", "as-ns.sh.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("test task %d still runs after the failure", pid)
	}
}

// TestFlavorCTLayout runs a test in the ct flavor, without a
// checkpoint, and looks at its container from outside while it runs:
// the mounts the flavor promises, at their places, with their flags,
// and nothing of them left in the runner's mount namespace.
func TestFlavorCTLayout(t *testing.T) {
	needBuild(t)
	test, err := Find(suite(t), []string{"static/sleeping00"})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	r, out := newRunner(t, Options{NoCR: true, Flavor: "ct", DumpRoot: root})
	ru := &run{r: r, t: test[0], flavor: FlavorCT, dir: filepath.Join(root, "ct", "static", "sleeping00")}
	ru.work = filepath.Join(ru.dir, "work")
	ru.pidfile = filepath.Join(ru.dir, "sleeping00.pid")
	ru.outfile = filepath.Join(ru.dir, "sleeping00.out")
	if err := os.MkdirAll(ru.work, 0o755); err != nil {
		t.Fatal(err)
	}
	if ru.ct, err = newCTRoot(zdtmDir, test[0].Path, ru.dir); err != nil {
		t.Fatal(err)
	}
	if err := ru.start(context.Background()); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	defer ru.killTask()
	ms, err := procfs.ReadMountInfo(ru.task.pid)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range ms {
		opts := strings.Join(m.Options, ",")
		got[m.Point] = m.FSType + " " + strings.Split(opts, ",")[0]
	}
	want := map[string]string{
		"/": "", "/proc": "proc rw", "/dev": "tmpfs rw", "/dev/pts": "devpts rw", "/dev/shm": "tmpfs rw",
		"/tmp": "tmpfs rw", "/usr": "", zdtmDir: "", ru.dir: "", ctExtPoint: "",
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("no mount at %s in the container: %v", p, got)
			continue
		}
		switch p {
		case "/usr", zdtmDir:
			if !strings.HasSuffix(g, " ro") {
				t.Errorf("%s is %q, want read-only", p, g)
			}
		case "/", ru.dir, ctExtPoint:
			if !strings.HasSuffix(g, " rw") {
				t.Errorf("%s is %q, want read-write", p, g)
			}
		default:
			if g != w {
				t.Errorf("%s is %q, want %q", p, g, w)
			}
		}
	}
	if len(ms) != len(want) {
		t.Errorf("%d mounts in the container, want %d: %v", len(ms), len(want), got)
	}
	for _, n := range []string{"null", "zero", "urandom", "tty"} {
		var st unix.Stat_t
		p := fmt.Sprintf("/proc/%d/root/dev/%s", ru.task.pid, n)
		if err := unix.Stat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
			t.Errorf("%s: not a character device (%v)", p, err)
		}
	}
	if l, err := os.Readlink(fmt.Sprintf("/proc/%d/root/dev/ptmx", ru.task.pid)); err != nil || l != "pts/ptmx" {
		t.Errorf("/dev/ptmx links to %q (%v), want pts/ptmx", l, err)
	}
	mine, err := procfs.ReadMountInfo(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mine {
		if inside(m.Point, ru.ct.dir) {
			t.Errorf("%s is mounted in the runner's namespace", m.Point)
		}
	}
	if err := ru.check(context.Background()); err != nil {
		t.Errorf("check: %v\n%s", err, out)
	}
}

// TestCorruptionIsReported runs every test with ZDTM_CORRUPT=1: each
// alters the state it checks, and the runner must report a FAIL at the
// check with the test's reason.
func TestCorruptionIsReported(t *testing.T) {
	needBuild(t)
	r, out := newRunner(t, Options{NoCR: true, KeepGoing: true, Corrupt: true, Flavor: "h,ns"})
	s := suite(t)
	sum, err := r.Run(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range sum.Results {
		if res.Status == "SKIP" {
			continue
		}
		if res.Status != "FAIL" || res.Stage != StageCheck || !strings.HasPrefix(res.Err.Error(), "FAIL") {
			t.Errorf("%s [%s] with a corrupted state: %s at %q: %v", res.Test.Name, res.Flavor, res.Status, res.Stage, res.Err)
		}
	}
	if n := runsIn(r, s, "h", "ns"); sum.Failed != n {
		t.Errorf("corrupted: %s, want %d failed\n%s", sum, n, out)
	}
	if !strings.Contains(out.String(), "FAIL static/env00 [h] at check") || !strings.Contains(out.String(), "FAIL static/env00 [ns] at check") {
		t.Errorf("the report does not say where env00 failed:\n%s", out)
	}
}

func TestBinaryProtocol(t *testing.T) {
	needRoot(t)
	bin, _ := filepath.Abs("testdata/proto.sh")
	for _, tc := range []struct {
		args   []string
		status string
		stage  string
		reason string
	}{
		{nil, "PASS", "", ""},
		{[]string{"--result=FAIL: it broke"}, "FAIL", StageCheck, "FAIL: it broke"},
		{[]string{"--result=nothing"}, "FAIL", StageCheck, "no PASS"},
		{[]string{"--early=3"}, "FAIL", StageStart, "exited with status 3"},
	} {
		test, err := BinaryTest(bin, tc.args)
		if err != nil {
			t.Fatal(err)
		}
		r, out := newRunner(t, Options{NoCR: true})
		sum, err := r.Run(context.Background(), []Test{test})
		if err != nil {
			t.Fatal(err)
		}
		res := sum.Results[0]
		if res.Status != tc.status || res.Stage != tc.stage || (tc.reason != "" && !strings.Contains(res.Err.Error(), tc.reason)) {
			t.Errorf("%v: %s at %q: %v; want %s at %q (%s)\n%s", tc.args, res.Status, res.Stage, res.Err, tc.status, tc.stage, tc.reason, out)
		}
		wantSum := "1 passed, 0 failed\n"
		if tc.status == "FAIL" {
			wantSum = "0 passed, 1 failed\n"
		}
		if !strings.HasSuffix(out.String(), wantSum) {
			t.Errorf("%v: output does not end with %q:\n%s", tc.args, wantSum, out)
		}
	}
}

// TestDumpFailureReport uses a fake criu whose dump fails: the runner
// must say it failed at dump, show the log's error line, and leave no
// test task or daemon behind.
func TestDumpFailureReport(t *testing.T) {
	needRoot(t)
	bin, _ := filepath.Abs("testdata/proto.sh")
	fake, _ := filepath.Abs("testdata/fakecriu.sh")
	test, err := BinaryTest(bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, remote := range []bool{false, true} {
		root := t.TempDir()
		r, out := newRunner(t, Options{Criu: fake, Remote: remote, DumpRoot: root})
		sum, err := r.Run(context.Background(), []Test{test})
		if err != nil {
			t.Fatal(err)
		}
		res := sum.Results[0]
		if res.Status != "FAIL" || res.Stage != StageDump {
			t.Fatalf("remote=%v: %s at %q: %v\n%s", remote, res.Status, res.Stage, res.Err, out)
		}
		if !strings.Contains(out.String(), "ERR fake dump failure") {
			t.Errorf("remote=%v: the log's error line is not in the report:\n%s", remote, out)
		}
		pid, err := readPid(filepath.Join(root, "bin", "proto.sh", "proto.sh.pid"))
		if err != nil {
			t.Fatal(err)
		}
		if alive(pid) {
			t.Errorf("remote=%v: test task %d still runs after the failure", remote, pid)
		}
		if remote {
			for _, d := range []string{"cache/image-cache.pid", "proxy/image-proxy.pid"} {
				dpid, err := readPid(filepath.Join(root, "bin", "proto.sh", fmt.Sprint(pid), "remote", d))
				if err != nil {
					t.Errorf("daemon %s did not start: %v", d, err)
				} else if alive(dpid) {
					t.Errorf("daemon %s (pid %d) still runs after the failure", d, dpid)
				}
			}
		}
	}
}

// TestFailureKillsTree fails tree00 at dump (a fake criu): the runner
// must kill the whole test tree, also the child that leads its own
// process group and that child's child, in both flavors.
func TestFailureKillsTree(t *testing.T) {
	needBuild(t)
	fake, _ := filepath.Abs("testdata/fakecriu.sh")
	ts, err := Find(suite(t), []string{"static/tree00"})
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range []string{"h", "ns"} {
		root := t.TempDir()
		r, out := newRunner(t, Options{Criu: fake, DumpRoot: root, Flavor: fl})
		sum, err := r.Run(context.Background(), ts)
		if err != nil {
			t.Fatal(err)
		}
		if res := sum.Results[0]; res.Status != "FAIL" || res.Stage != StageDump {
			t.Fatalf("%s: %s at %q: %v\n%s", fl, res.Status, res.Stage, res.Err, out)
		}
		dir := filepath.Join(root, "static", "tree00")
		if fl != "h" {
			dir = filepath.Join(root, fl, "static", "tree00")
		}
		pid, err := readPid(filepath.Join(dir, "tree00.pid"))
		if err != nil {
			t.Fatal(err)
		}
		// The reaper takes the killed tasks' zombies a moment later.
		left := sessionPids(pid)
		for i := 0; i < 100 && len(left) > 0; i++ {
			time.Sleep(50 * time.Millisecond)
			left = sessionPids(pid)
		}
		if len(left) > 0 {
			t.Errorf("%s: tasks %v of the failed test's session are still there", fl, left)
			killSession(pid)
		}
	}
}

// TestCheckpointRestore dumps and restores a few tests with the real
// criu, when its dump and restore exist.
func TestCheckpointRestore(t *testing.T) {
	needBuild(t)
	if criuBin == "" {
		t.Fatal("no criu for the real dump/restore: " + criuReason)
	}
	s := suite(t)
	for _, tc := range []struct{ name, flavor string }{
		{"static/sleeping00", "h"}, {"static/env00", "h"}, {"static/busyloop00", "h"},
		{"static/env00", "ns"}, {"static/uts00", "ns"}, {"static/tree00", "ns"},
		{"static/env00", "ct"}, {"static/tree00", "ct"}, {"static/inotify01", "ct"},
	} {
		ts, err := Find(s, []string{tc.name})
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimPrefix(tc.name, "static/")+"/"+tc.flavor, func(t *testing.T) {
			o := Options{Criu: criuBin, Iters: 2, Flavor: tc.flavor}
			if tc.flavor == FlavorCT {
				// Where zdtm keeps it by default, on the repository's
				// file system: ours refuses a container whose rootfs is
				// a part of a tmpfs (the test's temp dir may be one).
				o.DumpRoot = repoTempDir(t)
			}
			r, out := newRunner(t, o)
			sum, err := r.Run(context.Background(), ts)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Passed != 1 {
				t.Errorf("%s [%s] with dump/restore:\n%s", tc.name, tc.flavor, out)
			}
		})
	}
}

// TestFlavorCTCRIU42 dumps and restores a few tests in the ct flavor
// with the reference CRIU 4.2, twice each: the container the flavor
// builds and the criu options it gives (--external mnt[], --root) are
// what CRIU itself checkpoints and restores.
func TestFlavorCTCRIU42(t *testing.T) {
	needBuild(t)
	c42 := crtest.CRIU42()
	if st, err := os.Stat(c42); err != nil || st.Mode()&0o111 == 0 {
		t.Skipf("CRIU 4.2 is not at %s (set $CRIU42)", c42)
	}
	if out, err := exec.Command(c42, "--version").CombinedOutput(); err != nil {
		t.Skipf("CRIU 4.2 at %s does not run here: %v %s", c42, err, out)
	}
	ts, err := Find(suite(t), []string{"static/env00", "static/cwd01", "static/pipe00", "static/unix_listen00"})
	if err != nil {
		t.Fatal(err)
	}
	r, out := newRunner(t, Options{Criu: c42, Iters: 2, Flavor: "ct", KeepGoing: true})
	sum, err := r.Run(context.Background(), ts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Passed != len(ts) {
		t.Errorf("ct with CRIU 4.2: %s\n%s", sum, out)
	}
}

// repoTempDir is a temporary directory in zdtm/dump, removed after t.
func repoTempDir(t *testing.T) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(zdtmDir, "dump"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.MkdirTemp(filepath.Join(zdtmDir, "dump"), "go-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
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
