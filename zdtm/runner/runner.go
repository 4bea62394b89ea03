package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Stage names where a test failed.
const (
	StageStart   = "start"
	StagePreDump = "pre-dump"
	StageDump    = "dump"
	StageRestore = "restore"
	StageCheck   = "check"
	StageRemote  = "remote"
)

// Options control a run.
type Options struct {
	ZdtmDir string // the zdtm directory (for default paths)
	Criu    string // the criu binary; needed unless NoCR
	// DumpCriu and RestoreCriu, when set, dump or restore with another
	// criu than Criu (the cross-tool mode: images of one tool restored
	// by the other, such as CRIU 4.2 and ours). The image daemons of
	// --remote stay Criu's.
	DumpCriu    string
	RestoreCriu string
	DumpRoot    string // where dump dirs go; default ZdtmDir/dump
	// Flavor is "h" (host), "ns" (each test in new pid, net, uts, ipc
	// and mount namespaces), "ct" (as ns, the mount namespace a
	// container's, pivot_root'ed into a rootfs: ct_linux.go) or a
	// comma-separated list such as "h,ns,ct": the whole list of tests
	// runs once per flavor, in that order.
	Flavor   string
	Iters    int  // dump/restore cycles, default 1
	PreDumps int  // pre-dumps before each dump
	NoCR     bool // run without checkpointing
	Remote   bool // through image-proxy and image-cache
	TwoHosts bool // proxy and cache in two network namespaces (implies Remote)
	// KeepGoing runs the remaining tests after a failure.
	KeepGoing bool
	// Corrupt starts tests with ZDTM_CORRUPT=1: each alters its own
	// state before its check, which must then fail.
	Corrupt bool
	// Timeout bounds each step (start, each criu call, the check).
	Timeout time.Duration
	Verbose bool
	Out     io.Writer // per-test lines and the summary; default os.Stdout
}

// Result is the outcome of one test.
type Result struct {
	Test    Test
	Flavor  string
	Status  string // "PASS", "FAIL" or "SKIP"
	Stage   string // where it failed
	Err     error
	Details []string // error lines of logs, the outfile...
	Dir     string   // the test's run directory
	Elapsed time.Duration
}

// Summary counts results.
type Summary struct {
	Passed, Failed, Skipped int
	Results                 []Result
}

// String is the summary line: "N passed, N failed[, N skipped]".
func (s Summary) String() string {
	line := fmt.Sprintf("%d passed, %d failed", s.Passed, s.Failed)
	if s.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	return line
}

func (s *Summary) add(res Result) {
	s.Results = append(s.Results, res)
	switch res.Status {
	case "PASS":
		s.Passed++
	case "SKIP":
		s.Skipped++
	default:
		s.Failed++
	}
}

// Runner runs tests one after another.
type Runner struct {
	opts    Options
	flavors []string
	reaper  *reaper
	out     io.Writer
	cpu     map[string]bool
	hosts   *twoHosts
}

// New checks the options and makes this process a child subreaper.
func New(opts Options) (*Runner, error) {
	flavors, err := parseFlavors(opts.Flavor)
	if err != nil {
		return nil, err
	}
	if opts.Iters <= 0 {
		opts.Iters = 1
	}
	if opts.PreDumps < 0 {
		return nil, errors.New("--pre must not be negative")
	}
	if opts.TwoHosts {
		opts.Remote = true
	}
	if opts.NoCR && (opts.Remote || opts.PreDumps > 0 || opts.Iters > 1) {
		return nil, errors.New("--nocr does not go with --remote, --two-hosts, --pre or --iters")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 120 * time.Second
	}
	if opts.DumpRoot == "" {
		if opts.ZdtmDir == "" {
			return nil, errors.New("need a dump root or the zdtm directory")
		}
		opts.DumpRoot = filepath.Join(opts.ZdtmDir, "dump")
	}
	root, err := filepath.Abs(opts.DumpRoot)
	if err != nil {
		return nil, err
	}
	opts.DumpRoot = root
	if opts.ZdtmDir != "" {
		if opts.ZdtmDir, err = filepath.Abs(opts.ZdtmDir); err != nil {
			return nil, err
		}
	}
	if !opts.NoCR {
		if opts.DumpCriu != "" && opts.RestoreCriu != "" && !opts.Remote {
			opts.Criu = "" // not used
		}
		if opts.DumpCriu == "" {
			opts.DumpCriu = opts.Criu
		}
		if opts.RestoreCriu == "" {
			opts.RestoreCriu = opts.Criu
		}
		if opts.DumpCriu == "" || opts.RestoreCriu == "" {
			return nil, errors.New("no criu binary given (--criu PATH)")
		}
		for _, p := range []*string{&opts.Criu, &opts.DumpCriu, &opts.RestoreCriu} {
			if *p == "" {
				continue
			}
			c, err := filepath.Abs(*p)
			if err != nil {
				return nil, err
			}
			if st, err := os.Stat(c); err != nil || st.Mode()&0o111 == 0 {
				return nil, fmt.Errorf("criu binary %s is not there or not executable (build it: go build -o bin/criu ./criu)", c)
			}
			*p = c
		}
		if opts.Remote && (opts.DumpCriu != opts.Criu || opts.RestoreCriu != opts.Criu) {
			return nil, errors.New("--remote does not go with --dump-criu or --restore-criu (the image daemons are ours)")
		}
	}
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	r, err := getReaper()
	if err != nil {
		return nil, err
	}
	return &Runner{opts: opts, flavors: flavors, reaper: r, out: opts.Out, cpu: cpuFlags()}, nil
}

// Flavors.
const (
	FlavorHost = "h"  // the test runs in the runner's namespaces
	FlavorNS   = "ns" // the test is pid 1 of new pid, net, uts, ipc and mount namespaces
	FlavorCT   = "ct" // as ns, its mount namespace pivot_root'ed into a rootfs: a container
)

// parseFlavors splits a flavor list such as "h,ns,ct"; "" means "h".
func parseFlavors(list string) ([]string, error) {
	if list == "" {
		return []string{FlavorHost}, nil
	}
	var out []string
	for _, f := range strings.Split(list, ",") {
		switch f = strings.TrimSpace(f); f {
		case FlavorHost, FlavorNS, FlavorCT:
			if contains(out, f) {
				return nil, fmt.Errorf("flavor %q given twice in %q", f, list)
			}
			out = append(out, f)
		case "uns":
			return nil, errors.New(`flavor "uns" (a user namespace) is not supported; use h, ns or ct`)
		default:
			return nil, fmt.Errorf("unknown flavor %q in %q (want h, ns, ct or a list such as h,ns,ct)", f, list)
		}
	}
	return out, nil
}

// Run runs tests and prints a line per test and the summary line.
func (r *Runner) Run(ctx context.Context, tests []Test) (Summary, error) {
	var sum Summary
	if r.opts.TwoHosts {
		h, err := setupTwoHosts(ctx, r.reaper, r.opts.Timeout)
		if h != nil {
			defer h.cleanup(r.reaper)
		}
		if err != nil {
			return sum, fmt.Errorf("set up two hosts: %w", err)
		}
		r.hosts = h
	}
	stop := false
	for _, fl := range r.flavors {
		var fsum Summary
		for _, t := range tests {
			if ctx.Err() != nil || stop {
				break
			}
			res := r.runOne(ctx, t, fl)
			r.report(res)
			fsum.add(res)
			stop = res.Status == "FAIL" && !r.opts.KeepGoing
		}
		if len(r.flavors) > 1 && len(fsum.Results) > 0 {
			fmt.Fprintf(r.out, "flavor %s: %s\n", fl, fsum)
		}
		for _, res := range fsum.Results {
			sum.add(res)
		}
	}
	fmt.Fprintln(r.out, sum.String())
	return sum, ctx.Err()
}

func (r *Runner) report(res Result) {
	name := res.Test.Name + " [" + res.Flavor + "]"
	switch res.Status {
	case "PASS":
		fmt.Fprintf(r.out, "PASS %s (%.2fs)\n", name, res.Elapsed.Seconds())
	case "SKIP":
		fmt.Fprintf(r.out, "SKIP %s: %v\n", name, res.Err)
	default:
		fmt.Fprintf(r.out, "FAIL %s at %s (%.2fs): %v\n", name, res.Stage, res.Elapsed.Seconds(), res.Err)
		for _, d := range res.Details {
			fmt.Fprintf(r.out, "    %s\n", d)
		}
		if res.Dir != "" {
			fmt.Fprintf(r.out, "    files: %s\n", res.Dir)
		}
	}
}

// failure is an error at a stage, with details for the report.
type failure struct {
	stage   string
	err     error
	details []string
}

func (f *failure) Error() string { return f.stage + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(stage string, err error, details ...string) *failure {
	return &failure{stage: stage, err: err, details: details}
}

// task is the test's daemon process as the runner tracks it.
type task struct {
	pid  int
	done <-chan unix.WaitStatus
}

// run holds the state of one test run.
type run struct {
	r       *Runner
	t       Test
	flavor  string
	dir     string // NAME/ (FLAVOR/NAME/ in the ns and ct flavors)
	work    string // NAME/work
	pidfile string
	outfile string
	task    task
	// dumpedPid is the pid of the first dump; the image dirs are named
	// after it even when a restore in the ns flavor gets another host pid.
	dumpedPid int
	restored  bool // restored at least once (in the destination side with two hosts)
	remote    *remote
	ct        *ctRoot // the container of the ct flavor
}

// skipReason says why test t does not run in flavor here (not one of
// its flavors, a kernel feature or CPU flag it needs missing), or nil.
func (r *Runner) skipReason(t Test, flavor string) error {
	if len(t.Flavors) > 0 && !contains(t.Flavors, flavor) {
		return fmt.Errorf("not for flavor %s", flavor)
	}
	for _, n := range t.Needs {
		if has, known := kernelHas(n); known {
			if !has {
				return fmt.Errorf("this kernel lacks %s", n)
			}
			continue
		}
		if !r.cpu[n] {
			return fmt.Errorf("this CPU lacks %s", n)
		}
	}
	return nil
}

func (r *Runner) runOne(ctx context.Context, t Test, flavor string) Result {
	start := time.Now()
	res := Result{Test: t, Flavor: flavor}
	if why := r.skipReason(t, flavor); why != nil {
		res.Status, res.Err = "SKIP", why
		return res
	}
	dir := filepath.Join(r.opts.DumpRoot, filepath.FromSlash(t.Name))
	if flavor != FlavorHost {
		dir = filepath.Join(r.opts.DumpRoot, flavor, filepath.FromSlash(t.Name))
	}
	ru := &run{r: r, t: t, flavor: flavor, dir: dir}
	res.Dir = ru.dir
	err := ru.do(ctx)
	killStrays(t.Path)
	res.Elapsed = time.Since(start)
	if err == nil {
		res.Status = "PASS"
		return res
	}
	res.Status = "FAIL"
	var f *failure
	if errors.As(err, &f) {
		res.Stage, res.Err, res.Details = f.stage, f.err, f.details
	} else {
		res.Stage, res.Err = "run", err
	}
	return res
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func (ru *run) logf(format string, args ...any) {
	if ru.r.opts.Verbose {
		fmt.Fprintf(ru.r.out, "  "+format+"\n", args...)
	}
}

func (ru *run) step(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, ru.r.opts.Timeout)
}

func (ru *run) do(ctx context.Context) (err error) {
	base := filepath.Base(ru.t.Name)
	ru.work = filepath.Join(ru.dir, "work")
	ru.pidfile = filepath.Join(ru.dir, base+".pid")
	ru.outfile = filepath.Join(ru.dir, base+".out")
	if err := os.RemoveAll(ru.work); err != nil {
		return fail(StageStart, err)
	}
	// Keep only the latest run's images: a 256 MiB test adds up fast.
	if old, err := filepath.Glob(filepath.Join(ru.dir, "[0-9]*")); err == nil {
		for _, o := range old {
			if _, err := strconv.Atoi(filepath.Base(o)); err == nil {
				os.RemoveAll(o)
			}
		}
	}
	for _, f := range []string{ru.pidfile, ru.outfile, filepath.Join(ru.dir, "start.log")} {
		os.Remove(f)
	}
	if err := os.MkdirAll(ru.work, 0o755); err != nil {
		return fail(StageStart, err)
	}
	if ru.flavor == FlavorCT {
		// The test executes itself again inside, by this path.
		if ru.t.Path, err = filepath.Abs(ru.t.Path); err != nil {
			return fail(StageStart, err)
		}
		ct, err := newCTRoot(ru.r.opts.ZdtmDir, ru.t.Path, ru.dir)
		if err != nil {
			return fail(StageStart, fmt.Errorf("lay out the container: %w", err))
		}
		ru.ct = ct
	}
	if err := ru.start(ctx); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			ru.killTask()
		}
	}()
	if !ru.r.opts.NoCR {
		if ru.r.opts.Remote {
			rm, rerr := ru.startRemote(ctx)
			if rerr != nil {
				return rerr
			}
			ru.remote = rm
			defer func() {
				if err != nil {
					rm.kill()
				}
			}()
		}
		if err = ru.checkpointRestore(ctx); err != nil {
			return err
		}
	}
	if err = ru.check(ctx); err != nil {
		return err
	}
	if ru.remote != nil {
		if err = ru.remote.stop(ctx, ru.r.reaper); err != nil {
			return err
		}
	}
	return nil
}

// start runs the test binary, waits for its parent to exit once the
// daemon is ready, and reads the pidfile.
func (ru *run) start(ctx context.Context) error {
	startLog := filepath.Join(ru.dir, "start.log")
	argv := append([]string{ru.t.Path, "--pidfile=" + ru.pidfile, "--outfile=" + ru.outfile}, ru.t.Args...)
	env := os.Environ()
	env = removeEnv(removeEnv(removeEnv(env, "ZDTM_CORRUPT"), "ZDTM_FLAVOR"), "ZDTM_NOCR")
	if ru.r.opts.Corrupt {
		env = append(env, "ZDTM_CORRUPT=1")
	}
	// A test whose restore changes its state by design (criu options
	// such as --tcp-close) is told it runs without a checkpoint.
	if ru.r.opts.NoCR {
		env = append(env, "ZDTM_NOCR=1")
	}
	env = append(env, "ZDTM_FLAVOR="+ru.flavor)
	if ru.ct != nil {
		env = append(removeEnv(removeEnv(env, "ZDTM_CT_ROOT"), "ZDTM_CT_BINDS"), ru.ct.env()...)
	}
	s := spec{argv: argv, env: env, dir: ru.work, stdout: startLog}
	if ru.r.hosts != nil {
		s.netns = ru.r.hosts.srcPath()
	}
	ru.logf("start: %s", strings.Join(argv, " "))
	p, err := ru.r.reaper.start(s)
	if err != nil {
		return fail(StageStart, err)
	}
	sctx, cancel := ru.step(ctx)
	defer cancel()
	ws, err := p.wait(sctx)
	if err != nil {
		p.kill()
		return fail(StageStart, err, ru.startDetails()...)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fail(StageStart, fmt.Errorf("the test %s before it was ready", describe(ws)), ru.startDetails()...)
	}
	pid, err := readPid(ru.pidfile)
	if err != nil {
		return fail(StageStart, err, ru.startDetails()...)
	}
	done, err := ru.r.reaper.watch(pid)
	if err != nil {
		return fail(StageStart, fmt.Errorf("test pid %d is gone right after start: %w", pid, err), ru.startDetails()...)
	}
	ru.task = task{pid: pid, done: done}
	ru.dumpedPid = pid
	ru.logf("test pid %d", pid)
	if err := ru.checkNamespaces(pid); err != nil {
		ru.killTask()
		return fail(StageStart, err, ru.startDetails()...)
	}
	return nil
}

func (ru *run) startDetails() []string {
	var d []string
	for _, f := range []string{filepath.Join(ru.dir, "start.log"), ru.outfile} {
		if b, err := os.ReadFile(f); err == nil && len(b) > 0 {
			d = append(d, filepath.Base(f)+":")
			for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
				d = append(d, "  "+l)
			}
		}
	}
	return d
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pidfile %s holds %q, not a pid", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

func removeEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

// killTask kills the test's task if it still runs.
func (ru *run) killTask() {
	if ru.task.pid == 0 || ru.task.done == nil {
		return
	}
	select {
	case <-ru.task.done:
		return
	default:
	}
	// The test leads its own session: kill what it forked too, in
	// whatever process group (tree00's children lead their own). While
	// the leader lives, its pid names no other session.
	killSession(ru.task.pid)
	unix.Kill(-ru.task.pid, unix.SIGKILL)
	unix.Kill(ru.task.pid, unix.SIGKILL)
	select {
	case <-ru.task.done:
	case <-time.After(5 * time.Second):
	}
}

// checkpointRestore does the pre-dumps, dumps and restores.
func (ru *run) checkpointRestore(ctx context.Context) error {
	o := ru.r.opts
	n := 0
	for it := 1; it <= o.Iters; it++ {
		prev := ""
		for p := 1; p <= o.PreDumps; p++ {
			n++
			dir, err := ru.criuDump(ctx, "pre-dump", n, prev)
			if err != nil {
				return err
			}
			prev = dir
		}
		n++
		dir, err := ru.criuDump(ctx, "dump", n, prev)
		if err != nil {
			return err
		}
		// dump kills the task; its zombie is ours to reap before the
		// same pid can be restored.
		select {
		case ws := <-ru.task.done:
			ru.task.done = nil // gone until restored
			ru.logf("dumped task %s", describe(ws))
		case <-time.After(10 * time.Second):
			return fail(StageDump, fmt.Errorf("task %d still runs 10s after criu dump succeeded", ru.task.pid), "images and logs: "+dir)
		}
		if err := ru.criuRestore(ctx, dir); err != nil {
			return err
		}
	}
	return nil
}

func (ru *run) imgDir(n int) string {
	return filepath.Join(ru.dir, strconv.Itoa(ru.dumpedPid), strconv.Itoa(n))
}

func (ru *run) criuDump(ctx context.Context, cmd string, n int, prev string) (string, error) {
	stage := StageDump
	if cmd == "pre-dump" {
		stage = StagePreDump
	}
	dir := ru.imgDir(n)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return dir, fail(stage, err)
	}
	relPrev := ""
	if prev != "" {
		relPrev = "../" + filepath.Base(prev)
	}
	sock := ""
	if ru.remote != nil {
		sock = ru.remote.proxySocket
	}
	argv := append(dumpArgs(ru.r.opts.DumpCriu, cmd, ru.task.pid, dir, relPrev, ru.r.opts.PreDumps > 0, sock), ru.t.Opts...)
	if ru.ct != nil && cmd == "dump" {
		// As runc: a pre-dump saves memory only.
		argv = append(argv, ru.ct.dumpArgs()...)
	}
	// criu runs where the task is: the source side, or the destination
	// side once restored there (--iters); it reaches the proxy's UNIX
	// socket from either.
	s := spec{argv: argv, dir: dir, stdout: filepath.Join(dir, "criu-"+cmd+".out"), netns: ru.netnsPath()}
	if err := ru.criu(ctx, s); err != nil {
		return dir, fail(stage, err, ru.criuDetails(dir, cmd)...)
	}
	return dir, nil
}

func (ru *run) criuRestore(ctx context.Context, dir string) error {
	pidfile := filepath.Join(dir, "restore.pid")
	os.Remove(pidfile)
	sock := ""
	if ru.remote != nil {
		sock = ru.remote.cacheSocket
	}
	argv := append(restoreArgs(ru.r.opts.RestoreCriu, dir, pidfile, sock), ru.t.Opts...)
	if ru.ct != nil {
		argv = append(argv, ru.ct.restoreArgs()...)
	}
	s := spec{argv: argv, dir: dir, stdout: filepath.Join(dir, "criu-restore.out")}
	if ru.r.hosts != nil {
		s.netns = ru.r.hosts.dstPath()
	}
	if err := ru.criu(ctx, s); err != nil {
		return fail(StageRestore, err, ru.criuDetails(dir, "restore")...)
	}
	pid, err := readPid(pidfile)
	if err != nil {
		return fail(StageRestore, err, ru.criuDetails(dir, "restore")...)
	}
	// A test of the ns and ct flavors sees only its pids inside its namespace,
	// which restore keeps; its host pid may change.
	if pid != ru.task.pid && ru.flavor == FlavorHost {
		return fail(StageRestore, fmt.Errorf("restored as pid %d, dumped as %d", pid, ru.task.pid), ru.criuDetails(dir, "restore")...)
	}
	done, err := ru.r.reaper.watch(pid)
	if err != nil {
		return fail(StageRestore, fmt.Errorf("restored task %d is gone right after restore: %w", pid, err), ru.criuDetails(dir, "restore")...)
	}
	ru.restored = true
	if pid != ru.task.pid {
		ru.logf("restored as host pid %d, dumped as %d", pid, ru.task.pid)
	}
	ru.task = task{pid: pid, done: done}
	if err := ru.checkNamespaces(pid); err != nil {
		return fail(StageRestore, err, ru.criuDetails(dir, "restore")...)
	}
	return nil
}

func (ru *run) criu(ctx context.Context, s spec) error {
	ru.logf("%s", strings.Join(s.argv, " "))
	sctx, cancel := ru.step(ctx)
	defer cancel()
	start := time.Now()
	err := ru.r.reaper.run(sctx, s)
	ru.logf("  took %.3fs", time.Since(start).Seconds())
	return err
}

// criuDetails are the error lines of a criu call's log and output.
func (ru *run) criuDetails(dir, cmd string) []string {
	d := []string{"images and logs: " + dir}
	d = append(d, cmd+".log:")
	for _, l := range errorLines(filepath.Join(dir, cmd+".log"), 20) {
		d = append(d, "  "+l)
	}
	out := filepath.Join(dir, "criu-"+cmd+".out")
	if b, err := os.ReadFile(out); err == nil && len(b) > 0 {
		d = append(d, filepath.Base(out)+":")
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 10 {
			lines = lines[len(lines)-10:]
		}
		for _, l := range lines {
			d = append(d, "  "+l)
		}
	}
	return d
}

// check sends SIGTERM, waits for the task to end and reads the outfile.
func (ru *run) check(ctx context.Context) error {
	if err := unix.Kill(ru.task.pid, unix.SIGTERM); err != nil {
		return fail(StageCheck, fmt.Errorf("signal test pid %d: %w", ru.task.pid, err), ru.outDetails()...)
	}
	sctx, cancel := ru.step(ctx)
	defer cancel()
	var ws unix.WaitStatus
	select {
	case ws = <-ru.task.done:
	case <-sctx.Done():
		return fail(StageCheck, fmt.Errorf("test pid %d did not exit after SIGTERM: %w", ru.task.pid, sctx.Err()), ru.outDetails()...)
	}
	ru.task.pid = 0
	pass, lines, err := outcome(ru.outfile)
	if err != nil {
		return fail(StageCheck, fmt.Errorf("test %s and left no outfile: %w", describe(ws), err))
	}
	if !ws.Exited() {
		return fail(StageCheck, fmt.Errorf("test %s", describe(ws)), prefix("outfile: ", lines)...)
	}
	if !pass {
		why := "no PASS in the outfile"
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "FAIL") {
				why = strings.TrimSpace(l)
				break
			}
		}
		return fail(StageCheck, errors.New(why), prefix("outfile: ", lines)...)
	}
	if ws.ExitStatus() != 0 {
		return fail(StageCheck, fmt.Errorf("test wrote PASS but %s", describe(ws)), prefix("outfile: ", lines)...)
	}
	return nil
}

func (ru *run) outDetails() []string {
	_, lines, err := outcome(ru.outfile)
	if err != nil {
		return nil
	}
	return prefix("outfile: ", lines)
}

func prefix(p string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = p + l
	}
	return out
}
