package imgcache_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/remoteimg"
)

// vmHWM reads a process's peak RSS in KiB from /proc/PID/status.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return -1
}

// BenchmarkProxyToCache moves one snapshot (CRIUGO_BENCH_BYTES, default
// 1 GiB, as one pages image) through real image-proxy and image-cache
// processes over loopback, and a plain TCP copy of the same bytes in the
// same run; it prints the ratio, the time from the last byte written to
// the cache's acknowledgement (Finish), and both daemons' peak RSS.
func BenchmarkProxyToCache(b *testing.B) {
	needBinary(b)
	total := int64(1 << 30)
	if s := os.Getenv("CRIUGO_BENCH_BYTES"); s != "" {
		total, _ = strconv.ParseInt(s, 10, 64)
	}
	buf := pattern(1, 1<<20)
	for b.Loop() {
		dir := b.TempDir()
		port := freePort(b)
		cacheSock, proxySock := dir+"/cache.sock", dir+"/proxy.sock"
		cache := startDaemon(b, "image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", cacheSock,
			"--max-memory", strconv.FormatInt(total+(64<<20), 10))
		proxy := startDaemon(b, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", proxySock,
			"--max-memory", "64M")
		ctx := context.Background()
		st, err := remoteimg.Dial(ctx, proxySock, remoteimg.Options{Snapshot: "bench", Mode: remoteimg.ModeWrite})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		w, err := st.Create(ctx, "pages-1.img")
		if err != nil {
			b.Fatal(err)
		}
		for n := int64(0); n < total; n += int64(len(buf)) {
			if _, err := w.Write(buf[:min(int64(len(buf)), total-n)]); err != nil {
				b.Fatal(err)
			}
		}
		lastByte := time.Now()
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		if err := st.Finish(ctx); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		remote := acked.Sub(start)
		st.Close()

		// Plain TCP copy of the same bytes, same run.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		got := make(chan int64, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- -1
				return
			}
			n, _ := io.Copy(io.Discard, c)
			c.Close()
			got <- n
		}()
		tstart := time.Now()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		for n := int64(0); n < total; n += int64(len(buf)) {
			if _, err := c.Write(buf[:min(int64(len(buf)), total-n)]); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		if n := <-got; n != total {
			b.Fatalf("tcp copy moved %d bytes", n)
		}
		plain := time.Since(tstart)
		ln.Close()

		cacheHWM, proxyHWM := vmHWM(cache.cmd.Process.Pid), vmHWM(proxy.cmd.Process.Pid)
		mib := float64(total) / (1 << 20)
		fmt.Printf("proxy->cache %.0f MiB: %v (%.0f MiB/s); plain TCP: %v (%.0f MiB/s); ratio %.2fx; last byte -> ack %v; peak RSS cache %d MiB, proxy %d MiB\n",
			mib, remote.Round(time.Millisecond), mib/remote.Seconds(), plain.Round(time.Millisecond), mib/plain.Seconds(),
			remote.Seconds()/plain.Seconds(), acked.Sub(lastByte).Round(time.Microsecond), cacheHWM>>10, proxyHWM>>10)
		b.ReportMetric(remote.Seconds()/plain.Seconds(), "x-plain-tcp")
		b.ReportMetric(float64(acked.Sub(lastByte).Microseconds()), "us-lastbyte-to-ack")
		b.ReportMetric(float64(cacheHWM>>10), "MiB-cache-hwm")
		b.ReportMetric(float64(proxyHWM>>10), "MiB-proxy-hwm")
		proxy.term()
		cache.term()
	}
}
