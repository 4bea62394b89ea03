package mm_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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

// BenchmarkPreDump compares, on one process with CRIU_BENCH_MB (default
// 1024) MiB of heap of which 5% keeps being rewritten (dirtyheap.c):
//
//	plain-frozen-ms     frozen time of a plain dump
//	predump-frozen-ms   frozen time of a --track-mem pre-dump (the pages
//	                    are read and written after the tree runs again)
//	incr-frozen-ms      frozen time of the dump that follows 300 ms
//	                    later with --prev-images-dir and --track-mem
//	incr-pages          pages that dump wrote; the rest were PE_PARENT
//	plain/incr          ratio of the frozen times
//	incr-restore-ms     restoring those images (parent pages included)
//
// Each dump kills its own process (a fresh one for each), so both frozen
// times include the kill. The incremental images are then restored and the workload checks every
// page of its heap.
//
// Run: go test -run '^$' -bench PreDump -benchtime 1x ./criu/mm/
func BenchmarkPreDump(b *testing.B) {
	crtest.RequireRoot(b)
	crtest.Subreaper(b)
	mb := 1024
	if v, err := strconv.Atoi(os.Getenv("CRIU_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	bin := crtest.BuildC(b, filepath.Join(crtest.SourceDir(), "dirtyheap.c"), false)
	base := os.Getenv("CRIU_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	log := zerolog.Nop()
	ctx := context.Background()
	var plain, pre, incr *dump.Stats
	var restoreT time.Duration
	for b.Loop() {
		b.StopTimer()
		dir, err := os.MkdirTemp(base, "bench-")
		if err != nil {
			b.Fatal(err)
		}
		sub := func(name string) *image.Dir {
			p := filepath.Join(dir, name)
			if err := os.Mkdir(p, 0o755); err != nil {
				b.Fatal(err)
			}
			d, err := image.NewDir(p)
			if err != nil {
				b.Fatal(err)
			}
			return d
		}
		out := filepath.Join(dir, "out.txt")
		start := func() (*exec.Cmd, int) {
			os.Remove(out)
			cmd := crtest.Start(b, bin, out, strconv.Itoa(mb), "5")
			crtest.WaitFor(b, out, "ready\n", 120*time.Second)
			return cmd, cmd.Process.Pid
		}
		// Both dumps kill their task, as a migration does: the frozen
		// time ends once the task is gone.
		cmd, pid := start()
		b.StartTimer()
		s := sub("plain")
		plain, err = dump.Dump(ctx, s, dump.Options{Pid: pid, Log: log})
		s.Close()
		if err != nil {
			crtest.Kill(pid)
			b.Fatal(err)
		}
		b.StopTimer()
		cmd.Wait()
		os.RemoveAll(filepath.Join(dir, "plain"))
		cmd, pid = start()
		b.StartTimer()
		s = sub("pre")
		pre, err = dump.PreDump(ctx, s, dump.Options{Pid: pid, TrackMem: true, Log: log})
		s.Close()
		if err != nil {
			crtest.Kill(pid)
			b.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // the workload rewrites its 5%
		s = sub("final")
		incr, err = dump.Dump(ctx, s, dump.Options{Pid: pid, PrevImages: "../pre", TrackMem: true, Log: log})
		s.Close()
		if err != nil {
			crtest.Kill(pid)
			b.Fatal(err)
		}
		cmd.Wait()

		b.StopTimer()
		s, _ = image.NewDir(filepath.Join(dir, "final"))
		t0 := time.Now()
		task, err := restore.Restore(ctx, s, restore.Options{Log: log})
		restoreT = time.Since(t0)
		s.Close()
		if err != nil {
			b.Fatal(err)
		}
		task.Release()
		unix.Kill(pid, unix.SIGUSR2)
		crtest.WaitFor(b, out, "PASS", 60*time.Second)
		crtest.Kill(pid)
		os.RemoveAll(dir)
		b.StartTimer()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(plain.Frozen), "plain-frozen-ms")
	b.ReportMetric(ms(pre.Frozen), "predump-frozen-ms")
	b.ReportMetric(ms(incr.Frozen), "incr-frozen-ms")
	b.ReportMetric(float64(incr.PagesWritten), "incr-pages")
	b.ReportMetric(plain.Frozen.Seconds()/incr.Frozen.Seconds(), "plain/incr")
	b.ReportMetric(ms(restoreT), "incr-restore-ms")
	b.Logf("%d MiB, 5%% rewritten: plain dump frozen %v (%d pages); pre-dump frozen %v (%d pages written after); dump after pre-dump frozen %v (%d pages written, %d in parent)",
		mb, plain.Frozen.Round(time.Millisecond), plain.PagesWritten, pre.Frozen.Round(time.Millisecond), pre.PagesWritten,
		incr.Frozen.Round(time.Millisecond), incr.PagesWritten, incr.PagesSkippedParent)
	b.Logf("restore of the incremental images (pages from both dirs): %v", restoreT.Round(time.Millisecond))
}
