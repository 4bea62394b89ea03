package imgcache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"golang.org/x/sys/unix"
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

// procCPU is the user+system CPU time a process has used so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): state is 3,
	// utime 14, stime 15, in clock ticks (USER_HZ, 100 on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is the user+system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run is one measured transfer: wall time and the CPU time every process
// taking part used (ours: writer, proxy, cache; plain: sender, relay,
// receiver). On a machine shared with other work the wall time swings
// with the load; the CPU time much less.
type run struct{ wall, cpu time.Duration }

// warmMemory touches n bytes of fresh anonymous memory and frees them.
// Pages this VM has not touched for a while (never, or handed back to the
// host by virtio-balloon free page reporting) cost a host fault on first
// touch: ~9 us a page, so 2 GiB of cold memory took the cache 5 s of
// system time where 1 GiB of recently freed memory took 0.3 s. Warming
// before each transfer into memory gives ours and the plain copy the
// same kind of free pages.
func warmMemory(b *testing.B, n int64) {
	m, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		b.Fatal(err)
	}
	if err := unix.Madvise(m, unix.MADV_POPULATE_WRITE); err != nil {
		for i := 0; i < len(m); i += 4096 {
			m[i] = 1
		}
	}
	if err := unix.Munmap(m); err != nil {
		b.Fatal(err)
	}
}

// warmFiles writes n bytes to a file in dir, syncs and deletes it, so
// that the transfer measured next finds the file system as a busy host
// would. Here (ext4 on virtio-blk in a Firecracker VM) the first GiB
// written to a new file a few seconds after the last file was deleted
// costs ~1.8 s of CPU inside write(2), the next one ~0.2 s: whichever
// transfer wrote first paid for both (it used to be ours: the plain copy
// that followed reused what our cache had just deleted). Fresh anonymous
// memory shows no such effect.
func warmFiles(b *testing.B, dir string, n int64) {
	f, err := os.CreateTemp(dir, "warm-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	for w := int64(0); w < n; w += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
}

// benchBytes is the snapshot size: CRIUGO_BENCH_BYTES, default 1 GiB.
func benchBytes() int64 {
	total := int64(1 << 30)
	if s := os.Getenv("CRIUGO_BENCH_BYTES"); s != "" {
		total, _ = strconv.ParseInt(s, 10, 64)
	}
	return total
}

// sendImage writes total bytes of buf, repeated, as the one image of a
// new snapshot through the proxy at sock, and returns once the proxy holds
// it (Close) with the store, for the caller to Finish and Close, and the
// time the last byte was written.
func sendImage(b *testing.B, sock, snap string, total int64, buf []byte) (*remote.Store, time.Time) {
	ctx := context.Background()
	st, err := remote.Dial(ctx, sock, remote.Options{Snapshot: snap, Mode: remote.ModeWrite})
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
	lastByte := time.Now()
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return st, lastByte
}

// writeSnapshot sends one image (sendImage) and finishes the snapshot; it
// returns when the last byte was written and when the cache acknowledged.
func writeSnapshot(b *testing.B, sock, snap string, total int64, buf []byte) (lastByte, acked time.Time) {
	st, lastByte := sendImage(b, sock, snap, total, buf)
	defer st.Close()
	if err := st.Finish(context.Background()); err != nil {
		b.Fatal(err)
	}
	return lastByte, time.Now()
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
func plainTCP(b *testing.B, total int64, buf []byte, dest int, dir string) run {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() { got <- sinkTo(ln, dest, dir) }()
	switch dest {
	case toFile:
		warmFiles(b, dir, total)
	case toMemory:
		warmMemory(b, total+total/4)
	}
	start, cpu0 := time.Now(), selfCPU()
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
	return run{time.Since(start), selfCPU() - cpu0}
}

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
	// Fresh memory is mapped fresh (as malloc does for large blocks), so
	// every page is faulted in while the bytes are copied, as in the
	// cache; Go heap memory could be recycled from an earlier copy.
	var maps [][]byte
	defer func() {
		for _, m := range maps {
			unix.Munmap(m)
		}
	}()
	buf := make([]byte, 1<<20)
	var region []byte
	for {
		if dest == toMemory {
			if len(region) < 1<<20 {
				m, err := unix.Mmap(-1, 0, 32<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
				if err != nil {
					return -1
				}
				maps = append(maps, m)
				region = m
			}
			buf, region = region[:1<<20], region[1<<20:]
		}
		k, err := io.ReadFull(c, buf)
		n += int64(k)
		if dest == toFile {
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
// process copies them (read/write) to TCP, and a receiver stores them
// into dest (toNull or toMemory).
func plainRelay(b *testing.B, total int64, buf []byte, dest int) run {
	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() { got <- sinkTo(ln, dest, "") }()
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
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	var one [1]byte
	if _, err := r.Read(one[:]); err != nil {
		b.Fatalf("relay not ready: %v", err)
	}
	r.Close()
	if dest == toMemory {
		warmMemory(b, total+total/4)
	}
	start, cpu0 := time.Now(), selfCPU()
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
	wall, cpu := time.Since(start), selfCPU()-cpu0
	if err := cmd.Wait(); err != nil { // it exits once it has copied
		b.Fatalf("relay: %v", err)
	}
	fmt.Printf("  (cpu: sender+receiver %v, relay %v)\n", cpu.Round(10*time.Millisecond), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	return run{wall, cpu + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
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

// legRun measures the proxy->cache leg alone. The proxy takes the whole
// snapshot before any cache exists (it redials meanwhile, with backoff up
// to a second); then the cache starts, and the leg runs from the proxy's
// "connected to image cache" (the time stamp in its JSON log) to the
// Finish ack: connection handshake, every byte, the cache's checks.
// Nothing is stopped while a connection is open, so no stalled socket
// or retransmission distorts it.
func legRun(b *testing.B, total int64, buf []byte, maxMem string) (leg run, proxyHWM, cacheHWM int64) {
	dir := b.TempDir()
	port := freePort(b)
	proxy := startDaemon(b, "image-proxy", "--address", "127.0.0.1", "--port", port,
		"--local-socket", dir+"/proxy.sock", "--max-memory", maxMem, "--reconnect-timeout", "10m", "--log-format", "json")
	ctx := context.Background()
	st, _ := sendImage(b, dir+"/proxy.sock", "leg", total, buf)
	defer st.Close()
	warmMemory(b, total+total/4)
	proxyCPU := procCPU(proxy.cmd.Process.Pid)
	acked := make(chan error, 1)
	go func() { acked <- st.Finish(ctx) }()
	cache := startDaemon(b, "image-cache", "--address", "127.0.0.1", "--port", port,
		"--local-socket", dir+"/cache.sock", "--max-memory", maxMem)
	if err := <-acked; err != nil {
		b.Fatal(err)
	}
	end := time.Now()
	connected := lastLogTime(b, proxy.log.String(), "connected to image cache")
	proxyHWM, cacheHWM = vmHWM(proxy.cmd.Process.Pid), vmHWM(cache.cmd.Process.Pid)
	cpu := procCPU(proxy.cmd.Process.Pid) - proxyCPU + procCPU(cache.cmd.Process.Pid)
	proxy.term()
	cache.term()
	if os.Getenv("CRIUGO_BENCH_LOGS") != "" {
		fmt.Printf("proxy log:\n%s\ncache log:\n%s\n", proxy.log.String(), cache.log.String())
	}
	return run{end.Sub(connected), cpu}, proxyHWM, cacheHWM
}

// lastLogTime is the time of the last JSON log line whose message is msg.
func lastLogTime(b *testing.B, log, msg string) time.Time {
	var at time.Time
	for _, line := range strings.Split(log, "\n") {
		var e struct {
			Time    time.Time `json:"time"`
			Message string    `json:"message"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Message == msg {
			at = e.Time
		}
	}
	if at.IsZero() {
		b.Fatalf("no %q in the log:\n%s", msg, log)
	}
	return at
}

// pathRun runs the whole dump path: this process writes the snapshot to
// a fresh proxy (--max-memory 64M), which forwards it to a fresh cache
// started with cacheArgs; from the first byte to the Finish ack.
func pathRun(b *testing.B, total int64, buf []byte, cacheArgs ...string) (r run, lastToAck time.Duration, proxyHWM, cacheHWM int64) {
	dir := b.TempDir()
	port := freePort(b)
	cache := startDaemon(b, append([]string{"image-cache", "--address", "127.0.0.1", "--port", port,
		"--local-socket", dir + "/cache.sock"}, cacheArgs...)...)
	proxy := startDaemon(b, "image-proxy", "--address", "127.0.0.1", "--port", port,
		"--local-socket", dir+"/proxy.sock", "--max-memory", "64M")
	if slices.Contains(cacheArgs, "-D") {
		warmFiles(b, dir, total)
	} else {
		warmMemory(b, total+total/4)
	}
	start, cpu0 := time.Now(), selfCPU()
	lastByte, acked := writeSnapshot(b, dir+"/proxy.sock", "dump", total, buf)
	wcpu, pcpu, ccpu := selfCPU()-cpu0, procCPU(proxy.cmd.Process.Pid), procCPU(cache.cmd.Process.Pid)
	cpu := wcpu + pcpu + ccpu
	fmt.Printf("  (cpu: writer %v, proxy %v, cache %v)\n", wcpu.Round(10*time.Millisecond), pcpu, ccpu)
	proxyHWM, cacheHWM = vmHWM(proxy.cmd.Process.Pid), vmHWM(cache.cmd.Process.Pid)
	proxy.term()
	cache.term()
	return run{acked.Sub(start), cpu}, acked.Sub(lastByte), proxyHWM, cacheHWM
}

// BenchmarkProxyToCache moves one snapshot (CRIUGO_BENCH_BYTES, default
// 1 GiB, as one pages image) through real image-proxy and image-cache
// processes over loopback, in three runs, each set against plain copies
// of the same bytes made in the same iteration:
//
//   - leg: the proxy holds the whole snapshot before the cache starts
//     (legRun); from the proxy's connection to the Finish ack, against a
//     plain TCP copy into fresh memory (what the in-memory cache does with
//     the bytes) and to /dev/null;
//   - dump path: writer -> proxy UNIX socket -> proxy -> TCP -> in-memory
//     cache, proxy --max-memory 64M, from the first byte to the Finish
//     ack, against "cat | nc" (UNIX socket -> relay process -> TCP) into
//     fresh memory and to /dev/null; also the time from the last byte
//     written to the ack;
//   - disk: the same with the cache on -D and --max-memory 64M, against a
//     plain TCP copy into a file and its fsync.
//
// It prints every ratio (plain time / our time, in percent: 100% is as
// fast as the plain copy), the CPU time all processes of each transfer
// used (steadier than wall time on a shared machine), and the peak RSS
// (VmHWM) of both daemons. Run it with -benchtime Nx for N samples.
func BenchmarkProxyToCache(b *testing.B) {
	needBinary(b)
	total := benchBytes()
	buf := pattern(1, 1<<20)
	big := strconv.FormatInt(total+(64<<20), 10)
	pct := func(plain, ours time.Duration) float64 { return 100 * plain.Seconds() / ours.Seconds() }
	for b.Loop() {
		// 1. The proxy->cache leg alone.
		leg, legProxyHWM, legCacheHWM := legRun(b, total, buf, big)
		legMem := plainTCP(b, total, buf, toMemory, "")
		legNull := plainTCP(b, total, buf, toNull, "")
		// 2. The whole dump path, cache in memory.
		path, pathLast, memProxyHWM, memCacheHWM := pathRun(b, total, buf, "--max-memory", big)
		relayMem := plainRelay(b, total, buf, toMemory)
		relayNull := plainRelay(b, total, buf, toNull)
		// 3. The whole dump path, cache on disk, both daemons at 64M,
		// between two plain copies into a file: the page cache's state
		// here depends on what was freed last (see warmFiles).
		dir := b.TempDir()
		plainFile := plainTCP(b, total, buf, toFile, dir)
		disk, diskLast, diskProxyHWM, diskCacheHWM := pathRun(b, total, buf, "-D", dir+"/cache", "--max-memory", "64M")
		os.RemoveAll(dir + "/cache")
		plainFile2 := plainTCP(b, total, buf, toFile, dir)
		// Leave the next iteration a machine like the first one found:
		// no 1 GiB of our files in the page cache, no garbage heap here.
		debug.FreeOSMemory()

		line := func(what string, r run, ours *run) {
			fmt.Printf("    %-44s %8v %5.0f MiB/s  cpu %6v", what, r.wall.Round(time.Millisecond), mib(r.wall, total), r.cpu.Round(10*time.Millisecond))
			if ours != nil {
				fmt.Printf("  ours at %3.0f%% (cpu %3.0f%%)", pct(r.wall, ours.wall), pct(r.cpu, ours.cpu))
			}
			fmt.Println()
		}
		fmt.Printf("snapshot %.0f MiB; load %s", float64(total)/(1<<20), loadavg())
		fmt.Println("  leg: proxy->cache, proxy preloaded")
		line("ours", leg, nil)
		line("plain TCP into fresh memory (same dest)", legMem, &leg)
		line("plain TCP to /dev/null (no dest)", legNull, &leg)
		fmt.Printf("    peak RSS: proxy %d MiB, cache %d MiB (both hold the snapshot)\n", legProxyHWM>>10, legCacheHWM>>10)
		fmt.Printf("  dump path: writer->proxy->cache (memory); last byte -> ack %v\n", pathLast.Round(time.Microsecond))
		line("ours", path, nil)
		line("cat | nc into fresh memory (same dest)", relayMem, &path)
		line("cat | nc to /dev/null (no dest)", relayNull, &path)
		fmt.Printf("    peak RSS: proxy %d MiB (--max-memory 64M), cache %d MiB (holds the snapshot)\n", memProxyHWM>>10, memCacheHWM>>10)
		fmt.Printf("  disk: writer->proxy->cache -D; last byte -> ack %v (incl. fsync)\n", diskLast.Round(time.Microsecond))
		line("ours", disk, nil)
		line("plain TCP into a file + fsync, before ours", plainFile, &disk)
		line("plain TCP into a file + fsync, after ours", plainFile2, &disk)
		fmt.Printf("    peak RSS: proxy %d MiB, cache %d MiB (both --max-memory 64M)\n", diskProxyHWM>>10, diskCacheHWM>>10)
		b.ReportMetric(pct(legMem.wall, leg.wall), "%leg-vs-tcp-mem")
		b.ReportMetric(pct(legNull.wall, leg.wall), "%leg-vs-tcp-null")
		b.ReportMetric(pct(relayMem.wall, path.wall), "%dump-vs-relay-mem")
		b.ReportMetric(pct(relayNull.wall, path.wall), "%dump-vs-relay-null")
		b.ReportMetric(pct(plainFile.wall, disk.wall), "%disk-vs-tcp-file-before")
		b.ReportMetric(pct(plainFile2.wall, disk.wall), "%disk-vs-tcp-file-after")
		b.ReportMetric(float64(pathLast.Microseconds()), "us-lastbyte-to-ack")
		b.ReportMetric(float64(diskCacheHWM>>10), "MiB-cache-D-hwm")
		b.ReportMetric(float64(memProxyHWM>>10), "MiB-proxy-hwm")
	}
}

// loadavg is /proc/loadavg: how busy the machine was.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return string(b)
}
