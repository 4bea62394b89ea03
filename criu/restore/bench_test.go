package restore_test

import (
	"context"
	"io"
	"os"
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

// BenchmarkDumpRestore dumps and restores a process with CRIU_BENCH_MB
// (default 1024) MiB of dirty memory and reports, from the same run:
//
//	frozen-ms        time the task was frozen by dump (images synced)
//	dump-MB/s        dirty MiB / frozen time
//	copy-MB/s        copying pages-1.img to a new file on the same
//	                 filesystem, fsync included
//	dump/copy        ratio of the two
//	restore-MB/s     dirty MiB / restore time (until the task runs)
//	touch-MB/s       faulting the same amount of fresh memory page by page
//	restore/touch    ratio of the two
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
	var frozen, restoreT, copyT, touchT time.Duration
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

		s, _ := image.NewDir(dir)
		ds, err := dump.Dump(context.Background(), s, dump.Options{Pid: pid, Log: log})
		s.Close()
		if err != nil {
			crtest.Kill(pid)
			b.Fatal(err)
		}
		cmd.Wait()
		frozen = ds.Frozen
		s, _ = image.NewDir(dir)
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
		touchT = touch(b, mb<<20)
		os.RemoveAll(dir)
		b.StartTimer()
	}
	mbf := float64(mb)
	b.ReportMetric(float64(frozen.Microseconds())/1000, "frozen-ms")
	b.ReportMetric(mbf/frozen.Seconds(), "dump-MB/s")
	b.ReportMetric(mbf/copyT.Seconds(), "copy-MB/s")
	b.ReportMetric(copyT.Seconds()/frozen.Seconds(), "dump/copy")
	b.ReportMetric(mbf/restoreT.Seconds(), "restore-MB/s")
	b.ReportMetric(mbf/touchT.Seconds(), "touch-MB/s")
	b.ReportMetric(touchT.Seconds()/restoreT.Seconds(), "restore/touch")
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

// touch faults n bytes of fresh anonymous memory one page at a time.
func touch(b *testing.B, n int) time.Duration {
	m, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Munmap(m)
	t0 := time.Now()
	for i := 0; i < n; i += 4096 {
		m[i] = 1
	}
	return time.Since(t0)
}
