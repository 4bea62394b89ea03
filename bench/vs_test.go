package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

// workload is one program to checkpoint: start runs it and returns its
// root pid once it is ready.
type workload struct {
	name  string
	start func(b *testing.B, dir string) int
	// leaveRunning dumps with -R and does not restore: the frozen time
	// of a checkpoint for backup.
	leaveRunning bool
	// pss: report the tree's proportional set size after restore.
	pss bool
}

// sample is one dump (and restore) of a workload by one criu.
type sample struct {
	frozen, dump, restore time.Duration
	pssMB                 float64
}

// BenchmarkVsCRIU42 runs each workload with our criu and with CRIU 4.2,
// alternately (the order swaps every round), images on tmpfs, and
// prints the medians and ours / CRIU 4.2:
//
//	frozen   the dump's frozen time, from its stats-dump (both
//	         tools write CRIU's)
//	dump     wall time of `criu dump`
//	restore  wall time of `criu restore -d` (until the tree runs)
//	pss      the restored tree's proportional set size (forked workers
//	         sharing their parent's heap: a restore that keeps COW
//	         sharing keeps it small)
//
// CRIU_BENCH_ROUNDS (default 3) rounds; CRIU_BENCH_MB (default 1024) MiB
// for the big-memory workloads; CRIU_BENCH_ONLY=STR only the workloads
// whose name holds STR. Skipped when CRIU 4.2 does not run here.
//
// Run: go test -run '^$' -bench VsCRIU42 -benchtime 1x ./bench/
func BenchmarkVsCRIU42(b *testing.B) {
	crtest.RequireRoot(b)
	crtest.Subreaper(b)
	ours, ref := crtest.Criu(b), crtest.CRIU42()
	if out, err := crtest.Run(context.Background(), ref, "--version"); err != nil {
		b.Skipf("CRIU 4.2 does not run here (%s: %v %s): nothing to compare with", ref, err, strings.TrimSpace(out))
	}
	rounds := envInt("CRIU_BENCH_ROUNDS", 3)
	mb := envInt("CRIU_BENCH_MB", 1024)
	base, err := os.MkdirTemp("/dev/shm", "criugo-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(base) })
	src := func(name string) string { return filepath.Join(crtest.SourceDir(), name) }
	restoreSrc := func(name string) string {
		return filepath.Join(crtest.SourceDir(), "..", "..", "criu", "restore", "testdata", name)
	}
	counter := crtest.BuildC(b, restoreSrc("counter.c"), false)
	mt := crtest.BuildC(b, src("mt.c"), false)
	shmtree := crtest.BuildC(b, restoreSrc("shmtree.c"), false)
	workers := crtest.BuildC(b, src("workers.c"), false)
	bigheap := crtest.BuildC(b, restoreSrc("bigheap.c"), false)
	startReady := func(bin string, args ...string) func(b *testing.B, dir string) int {
		return func(b *testing.B, dir string) int {
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(b, bin, append([]string{out}, args...)...)
			crtest.WaitFor(b, out, "READY", 120*time.Second)
			return cmd.Process.Pid
		}
	}
	loads := []workload{
		{name: "small process", start: func(b *testing.B, dir string) int {
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(b, counter, out)
			crtest.WaitFor(b, out, "\n3 0\n", 10*time.Second)
			return cmd.Process.Pid
		}},
		{name: "2 threads + child", start: startReady(mt)},
		{name: "50 tasks, 64 MiB shared", start: func(b *testing.B, dir string) int {
			out := filepath.Join(dir, "out.txt")
			cmd := crtest.Start(b, shmtree, "50", "64", out)
			crtest.WaitFor(b, out, "READY", 60*time.Second)
			return cmd.Process.Pid
		}},
		{name: "8 forked workers, 256 MiB COW", start: startReady(workers, "256", "8"), pss: true},
		{name: fmt.Sprintf("%d MiB dirty", mb), start: startReady(bigheap, strconv.Itoa(mb))},
		{name: fmt.Sprintf("%d MiB dirty, dump -R", mb), start: startReady(bigheap, strconv.Itoa(mb)), leaveRunning: true},
	}
	// CRIU_BENCH_ONLY keeps the workloads whose name holds it ("dump -R").
	if only := os.Getenv("CRIU_BENCH_ONLY"); only != "" {
		loads = slices.DeleteFunc(loads, func(w workload) bool { return !strings.Contains(w.name, only) })
	}
	tools := []string{ours, ref}
	res := map[string][2][]sample{}
	for b.Loop() {
		for _, w := range loads {
			for r := 0; r < rounds; r++ {
				for k := range 2 {
					i := (k + r) % 2 // alternate which goes first
					s := runOnce(b, base, tools[i], w)
					v := res[w.name]
					v[i] = append(v[i], s)
					res[w.name] = v
				}
			}
		}
	}
	var tb strings.Builder
	fmt.Fprintf(&tb, "\nmedians of %d, ours vs CRIU 4.2, same run, images on tmpfs:\n\n", rounds)
	fmt.Fprintf(&tb, "| workload | metric | ours | CRIU 4.2 | ours / CRIU |\n|---|---|---|---|---|\n")
	for _, w := range loads {
		v := res[w.name]
		row := func(metric string, get func(sample) float64, unit string) {
			o, c := median(v[0], get), median(v[1], get)
			ratio := "-"
			if c > 0 {
				ratio = fmt.Sprintf("%.2f", o/c)
			}
			fmt.Fprintf(&tb, "| %s | %s | %.1f %s | %.1f %s | %s |\n", w.name, metric, o, unit, c, unit, ratio)
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		row("frozen", func(s sample) float64 { return ms(s.frozen) }, "ms")
		row("dump", func(s sample) float64 { return ms(s.dump) }, "ms")
		if !w.leaveRunning {
			row("restore", func(s sample) float64 { return ms(s.restore) }, "ms")
		}
		if w.pss {
			row("pss after restore", func(s sample) float64 { return s.pssMB }, "MiB")
		}
	}
	fmt.Print(tb.String()) // b.Log would cut the table at ten lines
}

// runOnce starts w, dumps it with criu and restores it (unless
// leaveRunning), and kills what runs.
func runOnce(b *testing.B, base, criu string, w workload) sample {
	dir, err := os.MkdirTemp(base, "run-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	pid := w.start(b, dir)
	imgs := filepath.Join(dir, "img")
	os.Mkdir(imgs, 0o755)
	args := []string{"dump", "-t", strconv.Itoa(pid), "-D", imgs, "-o", "dump.log"}
	if w.leaveRunning {
		args = append(args, "-R")
	}
	var s sample
	pids := treePids(pid)
	t0 := time.Now()
	out, err := crtest.Run(context.Background(), criu, args...)
	s.dump = time.Since(t0)
	if err != nil {
		killTree(pid)
		b.Fatalf("%s: %s dump: %v\n%s\n%s", w.name, criu, err, out, logTail(filepath.Join(imgs, "dump.log")))
	}
	s.frozen = frozenTime(b, imgs)
	if w.leaveRunning {
		killTree(pid)
		return s
	}
	waitGone(pids) // their pids must be free for the restore
	t0 = time.Now()
	out, err = crtest.Run(context.Background(), criu, "restore", "-D", imgs, "-d", "-o", "restore.log")
	s.restore = time.Since(t0)
	if err != nil {
		killTree(pid)
		b.Fatalf("%s: %s restore: %v\n%s\n%s", w.name, criu, err, out, logTail(filepath.Join(imgs, "restore.log")))
	}
	if w.pss {
		s.pssMB = treePss(pid)
	}
	killTree(pid)
	return s
}

// frozenTime is frozen_time of the dump's stats-dump.
func frozenTime(b *testing.B, dir string) time.Duration {
	st, err := image.NewDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var e images.StatsEntry
	if err := image.ReadOne(context.Background(), st, "stats-dump", &e); err != nil {
		b.Fatalf("stats-dump: %v", err)
	}
	return time.Duration(e.GetDump().GetFrozenTime()) * time.Microsecond
}

// treePids is root and its descendants.
func treePids(root int) []int {
	pids := []int{root}
	for i := 0; i < len(pids); i++ {
		ths, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pids[i]))
		for _, f := range ths {
			b, _ := os.ReadFile(f)
			for _, s := range strings.Fields(string(b)) {
				if p, err := strconv.Atoi(s); err == nil {
					pids = append(pids, p)
				}
			}
		}
	}
	return pids
}

// treePss is the sum of the tree's Pss, MiB.
func treePss(root int) float64 {
	var kb float64
	for _, p := range treePids(root) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
				v, _ := strconv.ParseFloat(f[1], 64)
				kb += v
			}
		}
	}
	return kb / 1024
}

// killTree kills root and its descendants and reaps them (the test is
// their subreaper).
func killTree(root int) {
	pids := treePids(root)
	for _, p := range pids {
		unix.Kill(p, unix.SIGKILL)
	}
	waitGone(pids)
}

// waitGone reaps until none of pids exists any more (10 s at most).
func waitGone(pids []int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		reapAll()
		left := false
		for _, p := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", p)); err == nil {
				left = true
				break
			}
		}
		if !left {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reapAll reaps every child that has exited.
func reapAll() {
	for {
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL, nil); pid <= 0 || err != nil {
			return
		}
	}
}

func median(ss []sample, get func(sample) float64) float64 {
	if len(ss) == 0 {
		return 0
	}
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = get(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func logTail(path string) string {
	b, _ := os.ReadFile(path)
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(l[max(0, len(l)-10):], "\n")
}
