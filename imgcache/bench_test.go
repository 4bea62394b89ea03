package imgcache_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
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

// benchBytes is the snapshot size: CRIUGO_BENCH_BYTES, default 1 GiB.
func benchBytes() int64 {
	total := int64(1 << 30)
	if s := os.Getenv("CRIUGO_BENCH_BYTES"); s != "" {
		total, _ = strconv.ParseInt(s, 10, 64)
	}
	return total
}

// writeSnapshot writes total bytes of buf, repeated, as one image of a
// new snapshot through the proxy at sock; it returns when Close has
// returned (the proxy holds the image) and then when Finish has (the
// cache holds the snapshot).
func writeSnapshot(b *testing.B, sock, snap string, total int64, buf []byte) (lastByte, closed, acked time.Time) {
	ctx := context.Background()
	st, err := remoteimg.Dial(ctx, sock, remoteimg.Options{Snapshot: snap, Mode: remoteimg.ModeWrite})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w, err := st.Create(ctx, "pages-1.img")
	if err != nil {
		b.Fatal(err)
	}
	for n := int64(0); n < total; n += int64(len(buf)) {
		if _, err := w.Write(buf[:min(int64(len(buf)), total-n)]); err != nil {
			b.Fatal(err)
		}
	}
	lastByte = time.Now()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	closed = time.Now()
	if err := st.Finish(ctx); err != nil {
		b.Fatal(err)
	}
	return lastByte, closed, time.Now()
}

// Destinations of a plain copy's receiver.
const (
	toNull   = iota // drop the bytes (nc > /dev/null)
	toMemory        // keep them in fresh memory, as the in-memory cache does
	toFile          // write them to a file and fsync it, as the cache does under -D
)

// plainTCP copies total bytes of buf over a fresh loopback TCP connection
// with read/write (like nc) into dest (toFile: a file in dir). It returns
// the time from connecting to the receiver having stored (and, for a
// file, fsynced) the last byte.
func plainTCP(b *testing.B, total int64, buf []byte, dest int, dir string) time.Duration {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() { got <- sinkTo(ln, dest, dir) }()
	start := time.Now()
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
	return time.Since(start)
}

// sink accepts one connection and reads it to the end, dropping it.
func sink(ln net.Listener) int64 { return sinkTo(ln, toNull, "") }

// sinkTo accepts one connection and reads it to the end into dest; it
// returns the bytes stored, -1 on a failure to store them.
func sinkTo(ln net.Listener, dest int, dir string) int64 {
	c, err := ln.Accept()
	if err != nil {
		return -1
	}
	defer c.Close()
	var f *os.File
	if dest == toFile {
		if f, err = os.Create(filepath.Join(dir, "plain.img")); err != nil {
			return -1
		}
		defer os.Remove(f.Name())
		defer f.Close()
	}
	var n int64
	var kept [][]byte
	buf := make([]byte, 1<<20)
	for {
		if dest == toMemory {
			buf = make([]byte, 1<<20)
		}
		k, err := io.ReadFull(c, buf)
		n += int64(k)
		switch dest {
		case toMemory:
			kept = append(kept, buf[:k])
		case toFile:
			if _, werr := f.Write(buf[:k]); werr != nil {
				return -1
			}
		}
		if err != nil {
			if f != nil && f.Sync() != nil {
				return -1
			}
			return n
		}
	}
}

// plainRelay is "cat | nc": the bytes go to a UNIX socket, a relay
// process copies them (read/write) to TCP, and a receiver drops them.
func plainRelay(b *testing.B, total int64, buf []byte) time.Duration {
	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() { got <- sink(ln) }()
	sock := filepath.Join(dir, "relay.sock")
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRelay+"="+sock+","+ln.Addr().String())
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var one [1]byte
	if _, err := r.Read(one[:]); err != nil {
		b.Fatalf("relay not ready: %v", err)
	}
	r.Close()
	start := time.Now()
	c, err := net.Dial("unix", sock)
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
		b.Fatalf("relay moved %d bytes", n)
	}
	return time.Since(start)
}

// envRelay makes the test binary a relay (see relayMain).
const envRelay = "CRIUGO_BENCH_RELAY"

// relayMain is the child of plainRelay: accept one UNIX connection on
// the socket, copy it with read/write into a TCP connection to addr.
func relayMain(spec string) {
	sock, addr, _ := strings.Cut(spec, ",")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		os.Exit(1)
	}
	ready := os.NewFile(3, "ready")
	ready.Write([]byte{0})
	ready.Close()
	in, err := ln.Accept()
	if err != nil {
		os.Exit(1)
	}
	out, err := net.Dial("tcp", addr)
	if err != nil {
		os.Exit(1)
	}
	buf := make([]byte, 1<<20)
	// Plain read/write (no splice): what nc does.
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, buf); err != nil {
		os.Exit(1)
	}
	out.Close()
	os.Exit(0)
}

func mib(d time.Duration, total int64) float64 { return float64(total) / (1 << 20) / d.Seconds() }

// BenchmarkProxyToCache moves one snapshot (CRIUGO_BENCH_BYTES, default
// 1 GiB, as one pages image) through real image-proxy and image-cache
// processes over loopback, in three runs, each against plain copies of
// the same bytes made in the same iteration:
//
//   - leg: the proxy already holds the whole snapshot (the cache was
//     SIGSTOPped while the writer filled the proxy); from SIGCONT to the
//     cache's Finish ack, against a plain TCP copy (to /dev/null, and
//     into fresh memory like the in-memory cache does);
//   - dump path: writer → proxy UNIX socket → proxy → TCP → in-memory
//     cache, proxy --max-memory 64M, from the first byte to the Finish
//     ack, against "cat | nc" (UNIX socket → relay process → TCP); also
//     the time from the last byte written to the ack;
//   - disk: the same with the cache on -D and --max-memory 64M.
//
// Each path is set against a plain copy of the same bytes over one
// loopback TCP connection into the same kind of destination (fresh
// memory for the in-memory cache, a file and its fsync for -D), and,
// labelled as having no destination, against copies to /dev/null. It
// prints every ratio and the peak RSS (VmHWM) of both daemons.
func BenchmarkProxyToCache(b *testing.B) {
	needBinary(b)
	total := benchBytes()
	buf := pattern(1, 1<<20)
	big := strconv.FormatInt(total+(64<<20), 10)
	for b.Loop() {
		// 1. The proxy→cache leg alone.
		dir := b.TempDir()
		port := freePort(b)
		cache := startDaemon(b, "image-cache", "--address", "127.0.0.1", "--port", port,
			"--local-socket", dir+"/cache.sock", "--max-memory", big, "-v2")
		proxy := startDaemon(b, "image-proxy", "--address", "127.0.0.1", "--port", port,
			"--local-socket", dir+"/proxy.sock", "--max-memory", big, "-v2")
		writeSnapshot(b, dir+"/proxy.sock", "warm", 4096, buf) // connect the leg
		cache.cmd.Process.Signal(syscall.SIGSTOP)
		ctx := context.Background()
		st, err := remoteimg.Dial(ctx, dir+"/proxy.sock", remoteimg.Options{Snapshot: "leg", Mode: remoteimg.ModeWrite})
		if err != nil {
			b.Fatal(err)
		}
		w, err := st.Create(ctx, "pages-1.img")
		if err != nil {
			b.Fatal(err)
		}
		for n := int64(0); n < total; n += int64(len(buf)) {
			if _, err := w.Write(buf[:min(int64(len(buf)), total-n)]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		cache.cmd.Process.Signal(syscall.SIGCONT)
		if err := st.Finish(ctx); err != nil {
			b.Fatal(err)
		}
		leg := time.Since(start)
		st.Close()
		proxy.term()
		cache.term()
		plain := plainTCP(b, total, buf, toNull, "")
		plainKeep := plainTCP(b, total, buf, toMemory, "")

		// 2. The whole dump path, cache in memory.
		dir = b.TempDir()
		port = freePort(b)
		cache = startDaemon(b, "image-cache", "--address", "127.0.0.1", "--port", port,
			"--local-socket", dir+"/cache.sock", "--max-memory", big, "-v2")
		proxy = startDaemon(b, "image-proxy", "--address", "127.0.0.1", "--port", port,
			"--local-socket", dir+"/proxy.sock", "--max-memory", "64M", "-v2")
		start = time.Now()
		lastByte, _, acked := writeSnapshot(b, dir+"/proxy.sock", "dump", total, buf)
		path := acked.Sub(start)
		memCacheHWM, memProxyHWM := vmHWM(cache.cmd.Process.Pid), vmHWM(proxy.cmd.Process.Pid)
		proxy.term()
		cache.term()
		relay := plainRelay(b, total, buf)
		pathKeep := plainTCP(b, total, buf, toMemory, "")

		// 3. The whole dump path, cache on disk, both daemons at 64M.
		dir = b.TempDir()
		port = freePort(b)
		cache = startDaemon(b, "image-cache", "--address", "127.0.0.1", "--port", port, "-D", dir+"/cache",
			"--local-socket", dir+"/cache.sock", "--max-memory", "64M", "-v2")
		proxy = startDaemon(b, "image-proxy", "--address", "127.0.0.1", "--port", port,
			"--local-socket", dir+"/proxy.sock", "--max-memory", "64M", "-v2")
		start = time.Now()
		diskLast, _, diskAcked := writeSnapshot(b, dir+"/proxy.sock", "disk", total, buf)
		disk := diskAcked.Sub(start)
		diskCacheHWM, diskProxyHWM := vmHWM(cache.cmd.Process.Pid), vmHWM(proxy.cmd.Process.Pid)
		proxy.term()
		cache.term()
		os.RemoveAll(dir + "/cache")
		plainFile := plainTCP(b, total, buf, toFile, dir)
		// Leave the next iteration a machine like the first one found:
		// no 1 GiB of our files in the page cache, no garbage heap here.
		os.RemoveAll(dir + "/cache")
		debug.FreeOSMemory()

		m := float64(total) / (1 << 20)
		fmt.Printf("snapshot %.0f MiB\n", m)
		fmt.Printf("  leg   proxy->cache (proxy preloaded): %v (%.0f MiB/s)\n", leg.Round(time.Millisecond), mib(leg, total))
		fmt.Printf("        plain TCP into memory (same dest): %v (%.0f MiB/s)  leg at %.0f%% of it\n",
			plainKeep.Round(time.Millisecond), mib(plainKeep, total), 100*plainKeep.Seconds()/leg.Seconds())
		fmt.Printf("        plain TCP to /dev/null (no dest):  %v (%.0f MiB/s)  leg at %.0f%% of it\n",
			plain.Round(time.Millisecond), mib(plain, total), 100*plain.Seconds()/leg.Seconds())
		fmt.Printf("  dump  writer->proxy->cache (memory):  %v (%.0f MiB/s); last byte -> ack %v\n",
			path.Round(time.Millisecond), mib(path, total), acked.Sub(lastByte).Round(time.Microsecond))
		fmt.Printf("        plain TCP into memory (same dest): %v (%.0f MiB/s)  dump path at %.0f%% of it\n",
			pathKeep.Round(time.Millisecond), mib(pathKeep, total), 100*pathKeep.Seconds()/path.Seconds())
		fmt.Printf("        cat | nc to /dev/null (unix->relay->tcp, no dest): %v (%.0f MiB/s)  dump path at %.0f%% of it\n",
			relay.Round(time.Millisecond), mib(relay, total), 100*relay.Seconds()/path.Seconds())
		fmt.Printf("        peak RSS: cache %d MiB (holds the snapshot), proxy %d MiB (--max-memory 64M)\n",
			memCacheHWM>>10, memProxyHWM>>10)
		fmt.Printf("  disk  writer->proxy->cache -D:         %v (%.0f MiB/s); last byte -> ack %v (fsync)\n",
			disk.Round(time.Millisecond), mib(disk, total), diskAcked.Sub(diskLast).Round(time.Microsecond))
		fmt.Printf("        plain TCP into a file + fsync (same dest): %v (%.0f MiB/s)  disk path at %.0f%% of it\n",
			plainFile.Round(time.Millisecond), mib(plainFile, total), 100*plainFile.Seconds()/disk.Seconds())
		fmt.Printf("        peak RSS: cache %d MiB, proxy %d MiB (both --max-memory 64M)\n",
			diskCacheHWM>>10, diskProxyHWM>>10)
		b.ReportMetric(100*plain.Seconds()/leg.Seconds(), "%leg-vs-tcp")
		b.ReportMetric(100*plainKeep.Seconds()/leg.Seconds(), "%leg-vs-tcp-mem")
		b.ReportMetric(100*relay.Seconds()/path.Seconds(), "%dump-vs-relay")
		b.ReportMetric(100*pathKeep.Seconds()/path.Seconds(), "%dump-vs-tcp-mem")
		b.ReportMetric(100*plainFile.Seconds()/disk.Seconds(), "%disk-vs-tcp-file")
		b.ReportMetric(float64(acked.Sub(lastByte).Microseconds()), "us-lastbyte-to-ack")
		b.ReportMetric(float64(diskCacheHWM>>10), "MiB-cache-D-hwm")
		b.ReportMetric(float64(memProxyHWM>>10), "MiB-proxy-hwm")
	}
}
