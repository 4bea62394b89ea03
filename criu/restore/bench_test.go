package restore_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/restore"
)

// BenchmarkDumpRestore dumps and restores a process with CRIU_BENCH_MB
// (default 1024) MiB of dirty memory and reports, from the same run:
//
//	frozen-ms        time the task was frozen by dump (images durable)
//	dump-MB/s        dirty MiB / frozen time
//	copy-MB/s        copying pages-1.img to a new file on the same
//	                 filesystem, fsync included
//	dump/copy        ratio of the two (target: at least 0.5)
//	restore-MB/s     dirty MiB / restore time (until the task runs)
//	touch-MB/s       faulting the same amount of fresh memory page by
//	                 page, as a task (or CRIU's restorer) does
//	restore/touch    ratio of the two
//	populate-MB/s    the same amount of fresh memory populated in bulk
//	                 (MADV_POPULATE_WRITE), the floor of what restore does
//	small-frozen-ms  median frozen time of five dumps of a small process
//	                 (counter.c; target: under 20 ms)
//
// Neither the workload nor the baselines get transparent huge pages: THP
// is "madvise" here, bigheap does not ask for them, and the baselines map
// with MADV_NOHUGEPAGE.
//
// Run: go test -run '^$' -bench DumpRestore -benchtime 1x ./criu/restore/
// The images go to $CRIU_BENCH_DIR (default: a temp dir).
func BenchmarkDumpRestore(b *testing.B) {
	crtest.RequireRoot(b)
	crtest.Subreaper(b)
	mb := 1024
	if v, err := strconv.Atoi(os.Getenv("CRIU_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	bin := crtest.BuildC(b, filepath.Join(crtest.SourceDir(), "bigheap.c"), false)
	base := os.Getenv("CRIU_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	log := zerolog.Nop()
	var frozen, restoreT, copyT, touchT, popT time.Duration
	var ds *dump.Stats
	var ts *timedStore
	for b.Loop() {
		b.StopTimer()
		dir, err := os.MkdirTemp(base, "bench-")
		if err != nil {
			b.Fatal(err)
		}
		out := filepath.Join(dir, "out.txt")
		cmd := crtest.Start(b, bin, out, strconv.Itoa(mb))
		pid := cmd.Process.Pid
		crtest.WaitFor(b, out, "READY", 120*time.Second)
		b.StartTimer()

		d, _ := image.NewDir(dir)
		ts = &timedStore{Store: d}
		ds, err = dump.Dump(context.Background(), ts, dump.Options{Pid: pid, Log: log})
		d.Close()
		if err != nil {
			crtest.Kill(pid)
			b.Fatal(err)
		}
		cmd.Wait()
		frozen = ds.Frozen
		// The baselines run where restore does: right after the dumped
		// task's memory was freed.
		touchT = touch(b, mb<<20, false)
		popT = touch(b, mb<<20, true)
		s, _ := image.NewDir(dir)
		t0 := time.Now()
		task, err := restore.Restore(context.Background(), s, restore.Options{Log: log})
		restoreT = time.Since(t0)
		s.Close()
		if err != nil {
			b.Fatal(err)
		}
		task.Release()

		b.StopTimer()
		unix.Kill(pid, unix.SIGUSR2)
		crtest.WaitFor(b, out, "PASS", 60*time.Second)
		crtest.Kill(pid)
		copyT = copyFile(b, filepath.Join(dir, "pages-1.img"), filepath.Join(dir, "copy.img"))
		os.RemoveAll(dir)
		b.StartTimer()
	}
	small := smallFrozen(b, base)
	mbf := float64(mb)
	b.ReportMetric(float64(frozen.Microseconds())/1000, "frozen-ms")
	b.ReportMetric(mbf/frozen.Seconds(), "dump-MB/s")
	b.ReportMetric(mbf/copyT.Seconds(), "copy-MB/s")
	b.ReportMetric(copyT.Seconds()/frozen.Seconds(), "dump/copy")
	b.ReportMetric(mbf/restoreT.Seconds(), "restore-MB/s")
	b.ReportMetric(mbf/touchT.Seconds(), "touch-MB/s")
	b.ReportMetric(touchT.Seconds()/restoreT.Seconds(), "restore/touch")
	b.ReportMetric(mbf/popT.Seconds(), "populate-MB/s")
	b.ReportMetric(float64(small[len(small)/2].Microseconds())/1000, "small-frozen-ms")
	b.Logf("dump %d MiB:  frozen %v = %.0f MB/s; copy %v = %.0f MB/s; dump/copy %.2f (target >= 0.5)",
		mb, frozen.Round(time.Millisecond), mbf/frozen.Seconds(), copyT.Round(time.Millisecond), mbf/copyT.Seconds(), copyT.Seconds()/frozen.Seconds())
	b.Logf("  of which: reading pages %v, writing pages %v, syncing images %v",
		ds.MemDump.Round(time.Millisecond), ts.writes["pages-1.img"].Round(time.Millisecond), ts.finish.Round(time.Millisecond))
	b.Logf("restore %d MiB: %v = %.0f MB/s; touch page by page %v = %.0f MB/s; restore/touch %.2f; bulk populate %v = %.0f MB/s",
		mb, restoreT.Round(time.Millisecond), mbf/restoreT.Seconds(), touchT.Round(time.Millisecond), mbf/touchT.Seconds(),
		touchT.Seconds()/restoreT.Seconds(), popT.Round(time.Millisecond), mbf/popT.Seconds())
	b.Logf("small process: frozen %v (median of %d dumps, max %v; target < 20ms)",
		small[len(small)/2].Round(10*time.Microsecond), len(small), small[len(small)-1].Round(10*time.Microsecond))
}

// smallFrozen dumps five fresh counter.c processes and returns their
// frozen times, sorted.
func smallFrozen(b *testing.B, base string) []time.Duration {
	bin := crtest.BuildC(b, filepath.Join(crtest.SourceDir(), "counter.c"), false)
	var out []time.Duration
	for i := 0; i < 5; i++ {
		dir, err := os.MkdirTemp(base, "small-")
		if err != nil {
			b.Fatal(err)
		}
		txt := filepath.Join(dir, "out.txt")
		cmd := crtest.Start(b, bin, txt)
		crtest.WaitFor(b, txt, "\n3 0\n", 5*time.Second)
		s, _ := image.NewDir(dir)
		ds, err := dump.Dump(context.Background(), s, dump.Options{Pid: cmd.Process.Pid, Log: zerolog.Nop()})
		s.Close()
		if err != nil {
			crtest.Kill(cmd.Process.Pid)
			b.Fatal(err)
		}
		cmd.Wait()
		out = append(out, ds.Frozen)
		os.RemoveAll(dir)
	}
	slices.Sort(out)
	return out
}

func copyFile(b *testing.B, from, to string) time.Duration {
	t0 := time.Now()
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<20)
	if _, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf); err != nil {
		b.Fatal(err)
	}
	if err := dst.Sync(); err != nil {
		b.Fatal(err)
	}
	dst.Close()
	d := time.Since(t0)
	os.Remove(to)
	return d
}

// touch faults n bytes of fresh anonymous memory (no huge pages) one page
// at a time, or with one MADV_POPULATE_WRITE if bulk.
func touch(b *testing.B, n int, bulk bool) time.Duration {
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := unix.Madvise(m, unix.MADV_NOHUGEPAGE); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if bulk {
		if err := unix.Madvise(m, unix.MADV_POPULATE_WRITE); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	for i := 0; i < n; i += 4096 {
		m[i] = 1
	}
	return time.Since(t0)
}
