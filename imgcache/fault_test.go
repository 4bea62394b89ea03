package imgcache_test

// The image cache's side of the fault suite (issue 12): real criu
// image-cache and image-proxy processes, real criu dump --remote and
// criu restore --remote of a workload with a known memory pattern
// (testdata/chainwork.c), and raw protocol clients where the fault is
// one a client makes. Each test logs one "scenario:" line (scenario |
// task state | data intact | what was served | what the user was told)
// for the table of the closing note.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// workRig is a cache, a proxy and the chainwork workload.
type workRig struct {
	*procRig
	t    *testing.T
	work string
}

func newWorkRig(t *testing.T) *workRig {
	t.Helper()
	needBinary(t)
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler for the workload")
	}
	p := newProcRig(t)
	work := filepath.Join(p.dir, "chainwork")
	if out, err := exec.Command(cc, "-O2", "-static", "-o", work, "testdata/chainwork.c").CombinedOutput(); err != nil {
		t.Fatalf("build workload: %v\n%s", err, out)
	}
	return &workRig{procRig: p, t: t, work: work}
}

// task is a running workload.
type task struct {
	cmd    *exec.Cmd
	status string
	pid    int
}

// start runs the workload in its own session, its 64 MiB filled.
func (r *workRig) start(name string) *task {
	out := filepath.Join(r.dir, name+".status")
	cmd := exec.Command(r.work, out)
	cmd.Dir = r.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitStatus(r.t, out, "ready 0")
	return &task{cmd: cmd, status: out, pid: cmd.Process.Pid}
}

// criu runs criu with args (and -v4) within timeout; it returns the log.
func (r *workRig) criu(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, criuBin, append(args, "-v4")...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("still running after %v (killed): %w", timeout, ctx.Err())
	}
	return string(out), err
}

func (r *workRig) dump(timeout time.Duration, tk *task, dir string) (string, error) {
	return r.criu(timeout, "dump", "-t", strconv.Itoa(tk.pid), "-D", dir, "--remote", "--remote-socket", r.proxySock)
}

// restore restores dir from the cache and returns the restored pid (0
// when the restore failed).
func (r *workRig) restore(timeout time.Duration, dir string) (int, string, error) {
	pidfile := filepath.Join(r.dir, filepath.Base(dir)+".pid")
	log, err := r.criu(timeout, "restore", "-D", dir, "--restore-detached", "--pidfile", pidfile,
		"--remote", "--remote-socket", r.cacheSock)
	if err != nil {
		return 0, log, err
	}
	pid := readPid(r.t, pidfile)
	r.t.Cleanup(func() { reapKill(pid) })
	return pid, log, nil
}

// alive reports whether tk still runs and its memory is intact (the
// workload checks all 64 MiB on SIGUSR2).
func (tk *task) intact(t *testing.T) bool {
	t.Helper()
	if err := syscall.Kill(tk.pid, 0); err != nil {
		return false
	}
	// The signal is sent again every half second: one that lands just
	// before the workload's pause() (a restored task resumes into it)
	// only sets its flag.
	for i, deadline := 0, time.Now().Add(20*time.Second); time.Now().Before(deadline); i++ {
		if i%50 == 0 {
			syscall.Kill(tk.pid, syscall.SIGUSR2)
		}
		time.Sleep(10 * time.Millisecond)
		b, _ := os.ReadFile(tk.status)
		switch s := strings.TrimSpace(string(b)); {
		case s == "ok 0":
			return true
		case strings.HasPrefix(s, "bad"):
			t.Logf("workload %d: %s", tk.pid, s)
			return false
		}
	}
	return false
}

// restoredIntact checks a restored workload (pid) the same way.
func restoredIntact(t *testing.T, tk *task, pid int) bool {
	os.Remove(tk.status)
	return (&task{status: tk.status, pid: pid}).intact(t)
}

// told is the line of a criu log that says why it failed.
func told(log string) string {
	for _, s := range []string{"Error", "error", "ERR", "failed"} {
		if l := lastLine(log, s); l != "" {
			return strings.TrimSpace(l)
		}
	}
	lines := strings.Split(strings.TrimSpace(log), "\n")
	return lines[len(lines)-1]
}

func scenario(t *testing.T, what, taskState, data, served, userTold string) {
	t.Logf("scenario: %s | %s | %s | %s | %s", what, taskState, data, served, userTold)
}

func writeOnly(t *testing.T, p *procRig, snap string, imgs map[string][]byte) *remote.Store {
	t.Helper()
	w, err := remote.Dial(context.Background(), p.proxySock, remote.Options{Snapshot: snap, Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range imgs {
		if err := writeImage(context.Background(), w, name, b); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
	return w
}

// TestFaultRetriedDumpSurvivesRestart (item 1): an attempt under the
// dump's snapshot id commits images and fails (no Finish); the real dump
// under the same -D then succeeds (the task is gone); the cache with -D
// is killed and restarted; the restore must find the snapshot, whole.
func TestFaultRetriedDumpSurvivesRestart(t *testing.T) {
	r := newWorkRig(t)
	cache := r.cache(t)
	r.proxy(t)
	tk := r.start("retry")
	dir := filepath.Join(r.dir, "retry")
	id := remoteimg.SnapshotID(dir)
	// The failed first attempt: an image the dump writes again (another
	// size) and one it never writes, committed; then the writer is gone.
	w := writeOnly(t, r.procRig, id, map[string][]byte{"inventory.img": pattern(1, 5000), "stale-1.img": pattern(2, 3000)})
	w.Close()
	if log, err := r.dump(60*time.Second, tk, dir); err != nil {
		t.Fatalf("retried dump: %v\n%s", err, log)
	}
	tk.cmd.Wait() // the dump killed it
	cache.kill()
	cache = r.cache(t)
	if !cache.waitLog("kept snapshot loaded", 5*time.Second) {
		t.Fatalf("restarted cache loaded nothing:\n%s", cache.log.String())
	}
	pid, log, err := r.restore(60*time.Second, dir)
	if err != nil {
		t.Fatalf("restore after the cache restart: %v\n%s\ncache log:\n%s", err, log, cache.log.String())
	}
	ok := restoredIntact(t, tk, pid)
	if !ok {
		t.Fatal("restored task's memory differs")
	}
	scenario(t, "retried dump, then cache (-D) restarted", "restored, running", "yes (64 MiB checked)", "the retry's snapshot", "restore ok")
}

// TestFaultDrainRefusesNewSnapshot (item 2): a memory cache gets SIGTERM
// while an image is in flight on the proxy's connection; a real dump
// started then must fail (its task keeps running), the in-flight
// snapshot's Finish must be refused too (it would die with the cache),
// and the cache said at start that memory snapshots die with it.
func TestFaultDrainRefusesNewSnapshot(t *testing.T) {
	r := newWorkRig(t)
	cache := startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", r.port,
		"--local-socket", r.cacheSock, "--drain-timeout", "60s")
	r.proxy(t)
	ctx := context.Background()
	w := r.store(t, remote.ModeWrite, "inflight")
	if err := writeImage(ctx, w, "done.img", pattern(3, 1<<20)); err != nil {
		t.Fatal(err)
	}
	iw, err := w.Create(ctx, "open.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iw.Write(pattern(4, 1<<20)); err != nil {
		t.Fatal(err)
	}
	for heldBytes(t, r.cacheSock, "inflight") < 2<<20 {
		time.Sleep(10 * time.Millisecond)
	}
	cache.cmd.Process.Signal(syscall.SIGTERM)
	if !cache.waitLog("draining", 5*time.Second) {
		t.Fatal("cache did not start draining")
	}
	tk := r.start("drain")
	log, derr := r.dump(60*time.Second, tk, filepath.Join(r.dir, "drain"))
	alive := tk.intact(t)
	// The in-flight snapshot: its image completes, its Finish is refused.
	if err := iw.Close(); err != nil {
		t.Fatalf("in-flight image: %v", err)
	}
	ferr := w.Finish(ctx)
	if derr == nil || !alive {
		t.Fatalf("dump started during the drain: err %v, task alive and intact %v\n%s", derr, alive, log)
	}
	if !errors.Is(ferr, remoteimg.ErrShutdown) {
		t.Fatalf("Finish of the in-flight memory snapshot during the drain: %v, want ErrShutdown", ferr)
	}
	if !strings.Contains(cache.log.String(), "lost when this cache exits") {
		t.Fatalf("a memory cache did not say at start that its snapshots die with it:\n%s", cache.log.String())
	}
	t.Logf("dump: %s; in-flight Finish: %v", told(log), ferr)
	scenario(t, "memory cache SIGTERMed, dump starts while it drains", "running (dump failed)", "yes (64 MiB checked)",
		"nothing (new snapshot refused; the in-flight one's Finish refused)", told(log))
}

// TestFaultCorruptImageOnDisk (item 3): a byte flipped in an image under
// the cache's -D after the dump: restore must fail (no task left), an
// early-stopping reader must get the verdict at Open, also for a parent
// (pre-dump) snapshot's pages, and also after a cache restart.
func TestFaultCorruptImageOnDisk(t *testing.T) {
	r := newWorkRig(t)
	cache := r.cache(t, "--keep")
	r.proxy(t)
	tk := r.start("flip")
	pre, final := filepath.Join(r.dir, "f1"), filepath.Join(r.dir, "f2")
	pid := strconv.Itoa(tk.pid)
	if log, err := r.criu(60*time.Second, "pre-dump", "-t", pid, "-D", pre, "--track-mem", "--remote", "--remote-socket", r.proxySock); err != nil {
		t.Fatalf("pre-dump: %v\n%s", err, log)
	}
	if log, err := r.criu(60*time.Second, "dump", "-t", pid, "-D", final, "--prev-images-dir", "../f1", "--track-mem",
		"--remote", "--remote-socket", r.proxySock); err != nil {
		t.Fatalf("dump: %v\n%s", err, log)
	}
	tk.cmd.Wait()
	// Flip a byte in the middle of the parent's pages (the 64 MiB the
	// dump left there).
	parentID := remoteimg.SnapshotID(pre)
	pages, _ := filepath.Glob(filepath.Join(r.cacheDir, "snapshots", parentID, "pages-*.img"))
	if len(pages) != 1 {
		t.Fatalf("parent pages images: %v", pages)
	}
	f, err := os.OpenFile(pages[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	var b [1]byte
	f.ReadAt(b[:], fi.Size()/2)
	b[0] ^= 0x5a
	f.WriteAt(b[:], fi.Size()/2)
	f.Close()
	name := filepath.Base(pages[0])
	for _, when := range []string{"running cache", "restarted cache"} {
		if when == "restarted cache" {
			cache.kill()
			cache = r.cache(t, "--keep")
		}
		// A reader that wants one byte.
		rd := r.store(t, remote.ModeRead, parentID)
		rc, err := rd.Open(context.Background(), name)
		if err == nil {
			_, err = io.ReadFull(rc, b[:])
			rc.Close()
			t.Fatalf("%s: one byte of the corrupt %s served (%v)", when, name, err)
		}
		if !errors.Is(err, remoteimg.ErrCorrupt) {
			t.Fatalf("%s: Open of the corrupt image: %v, want ErrCorrupt", when, err)
		}
		rpid, log, err := r.restore(60*time.Second, final)
		if err == nil {
			ok := restoredIntact(t, tk, rpid)
			t.Fatalf("%s: restore of a snapshot whose parent is corrupt succeeded (memory intact: %v)", when, ok)
		}
		if !strings.Contains(log, "checksum") && !strings.Contains(log, "corrupt") {
			t.Fatalf("%s: restore failed but did not say the image is corrupt:\n%s", when, log)
		}
		if syscall.Kill(tk.pid, 0) == nil {
			t.Fatalf("%s: the failed restore left pid %d behind", when, tk.pid)
		}
		t.Logf("%s: restore: %s", when, told(log))
		scenario(t, "byte flipped in the parent's pages under -D ("+when+")", "not restored (no process left)", "corrupt image never served",
			"Result(corrupt) at Open, before any byte", told(log))
	}
	if _, err := os.Stat(pages[0]); err != nil {
		t.Fatalf("the corrupt finished snapshot was deleted: %v", err)
	}
}

// TestFaultNewWriterKeepsFinished (item 5): a Put under the id of a
// finished snapshot no restore has released is refused; the finished
// snapshot stays whole; after its release (--keep) the id may be reused.
func TestFaultNewWriterKeepsFinished(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	p.cache(t, "--keep")
	p.proxy(t)
	ctx := context.Background()
	w := writeOnly(t, p, "fin", map[string][]byte{"a.img": pattern(1, 200_000)})
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	w2, err := remote.Dial(ctx, p.proxySock, remote.Options{Snapshot: "fin", Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	werr := writeImage(ctx, w2, "a.img", pattern(9, 1000))
	ferr := w2.Finish(ctx)
	if !errors.Is(werr, remoteimg.ErrExist) && !errors.Is(ferr, remoteimg.ErrExist) {
		t.Fatalf("new writer under a finished snapshot: write %v, finish %v; want ErrExist", werr, ferr)
	}
	rd := p.store(t, remote.ModeRead, "fin")
	got, err := readImage(ctx, rd, "a.img")
	if err != nil || !bytes.Equal(got, pattern(1, 200_000)) {
		t.Fatalf("finished snapshot after the refused writer: %d bytes, %v", len(got), err)
	}
	if err := rd.Release(ctx); err != nil {
		t.Fatal(err)
	}
	w3 := writeOnly(t, p, "fin", map[string][]byte{"a.img": pattern(5, 1000)})
	if err := w3.Finish(ctx); err != nil {
		t.Fatalf("re-dump after the release: %v", err)
	}
	t.Logf("new writer told: %v / %v", werr, ferr)
	scenario(t, "Put under a finished, unrestored snapshot's id", "n/a (raw client)", "yes (finished snapshot read back whole)",
		"the finished snapshot", fmt.Sprint(errors.Join(werr, ferr)))
}

// TestFaultReaderOneGeneration (item 6): a restore reads a snapshot
// while it arrives; its dump dies, and a new dump under the same id
// starts: the reader must never get the new dump's images.
func TestFaultReaderOneGeneration(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	p.cache(t, "--resume-timeout", "3s")
	p.proxy(t)
	ctx := context.Background()
	w1 := writeOnly(t, p, "gen", map[string][]byte{"a.img": pattern(1, 100_000)})
	rd := p.store(t, remote.ModeRead, "gen")
	if got, err := readImage(ctx, rd, "a.img"); err != nil || !bytes.Equal(got, pattern(1, 100_000)) {
		t.Fatalf("first image: %v", err)
	}
	// The restore waits for b.img of the first dump.
	type res struct {
		b   []byte
		err error
	}
	bc := make(chan res, 1)
	go func() { b, err := readImage(ctx, rd, "b.img"); bc <- res{b, err} }()
	time.Sleep(200 * time.Millisecond)
	w1.Close() // the first dump dies
	w2, err := remote.Dial(ctx, p.proxySock, remote.Options{Snapshot: "gen", Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	e1 := writeImage(ctx, w2, "a.img", pattern(2, 100_000))
	e2 := writeImage(ctx, w2, "b.img", pattern(2, 50_000))
	e3 := w2.Finish(ctx)
	var got res
	select {
	case got = <-bc:
	case <-time.After(30 * time.Second):
		t.Fatal("the reader of the dead dump's snapshot still waits")
	}
	if got.err == nil {
		t.Fatalf("the reader of the first dump got b.img of the second (%d bytes)", len(got.b))
	}
	if e3 == nil {
		t.Fatalf("the second dump's Finish succeeded while a restore read the first (images: %v, %v)", e1, e2)
	}
	t.Logf("reader: %v; second dump: %v", got.err, e3)
	scenario(t, "restore reads an arriving snapshot; its dump dies, a new one starts under the id", "n/a (raw clients)",
		"yes (no image of the second dump reached the reader)", "first dump's images only, then an error", got.err.Error())
}

// TestFaultAbandonedSnapshotFreed (item 9): the images of a dump that
// failed (committed, never finished) are freed after the resume timeout
// although the proxy's connection stays up; a later real dump that needs
// the memory succeeds and restores.
func TestFaultAbandonedSnapshotFreed(t *testing.T) {
	r := newWorkRig(t)
	startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", r.port,
		"--local-socket", r.cacheSock, "--max-memory", "112M", "--resume-timeout", "2s")
	r.proxy(t)
	w := writeOnly(t, r.procRig, "failed", map[string][]byte{"pages-1.img": pattern(1, 60<<20)})
	w.Close() // the dump failed: no Finish
	for start := time.Now(); heldBytes(t, r.cacheSock, "failed") != 0; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatal("the failed dump's images are still held after 20 s (resume timeout 2 s)")
		}
	}
	tk := r.start("after")
	dir := filepath.Join(r.dir, "after")
	log, err := r.dump(60*time.Second, tk, dir)
	if err != nil {
		t.Fatalf("healthy dump after a failed one: %v\n%s", err, log)
	}
	tk.cmd.Wait()
	pid, log, err := r.restore(60*time.Second, dir)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, log)
	}
	if !restoredIntact(t, tk, pid) {
		t.Fatal("restored memory differs")
	}
	scenario(t, "memory cache: failed dump's 60 MiB left, then a healthy dump", "restored, running", "yes (64 MiB checked)",
		"the healthy snapshot", "dump ok (the failed dump's images were freed after --resume-timeout)")
}

// TestFaultSnapshotBiggerThanCache (item 12): a memory cache whose
// --max-memory is below one snapshot: the real dump fails fast with a
// message naming the budget, the task keeps running intact.
func TestFaultSnapshotBiggerThanCache(t *testing.T) {
	r := newWorkRig(t)
	startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", r.port,
		"--local-socket", r.cacheSock, "--max-memory", "32M")
	r.proxy(t)
	tk := r.start("big")
	start := time.Now()
	log, err := r.dump(60*time.Second, tk, filepath.Join(r.dir, "big"))
	took := time.Since(start)
	if err == nil {
		t.Fatalf("dump of 64 MiB into a 32M memory cache succeeded:\n%s", log)
	}
	if took > 20*time.Second {
		t.Fatalf("dump failed only after %v: %v", took, err)
	}
	if !strings.Contains(log, "max-memory") {
		t.Fatalf("the dump's failure does not name the cache's budget:\n%s", log)
	}
	if !tk.intact(t) {
		t.Fatal("the task is not running intact after the failed dump")
	}
	t.Logf("dump failed after %v: %s", took.Round(time.Millisecond), told(log))
	scenario(t, "64 MiB snapshot into a --max-memory 32M memory cache", "running (dump failed in "+took.Round(100*time.Millisecond).String()+")",
		"yes (64 MiB checked)", "nothing", told(log))
}

// TestFaultConcurrentOverBudget (item 10): four snapshots that together
// exceed --max-memory, written at once on the proxy's one connection:
// none may hang; those the budget cannot hold fail with ErrNoSpace, the
// others finish and read back whole.
func TestFaultConcurrentOverBudget(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", p.port,
		"--local-socket", p.cacheSock, "--max-memory", "64M")
	p.proxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n, size = 4, 24 << 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := remote.Dial(ctx, p.proxySock, remote.Options{Snapshot: fmt.Sprintf("c%d", i), Mode: remote.ModeWrite})
			if err != nil {
				errs[i] = err
				return
			}
			defer w.Close()
			if err := writeImage(ctx, w, "pages-1.img", pattern(i, size)); err != nil {
				errs[i] = err
				return
			}
			errs[i] = w.Finish(ctx)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("writers still blocked after 60 s: %v", errs)
	}
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			rd := p.store(t, remote.ModeRead, fmt.Sprintf("c%d", i))
			if got, err := readImage(context.Background(), rd, "pages-1.img"); err != nil || !bytes.Equal(got, pattern(i, size)) {
				t.Fatalf("snapshot c%d: %v", i, err)
			}
		case errors.Is(err, remoteimg.ErrNoSpace):
			t.Logf("c%d: %v", i, err)
		default:
			t.Fatalf("c%d: %v, want success or ErrNoSpace", i, err)
		}
	}
	if ok == 0 {
		t.Fatal("no snapshot made it although the budget holds two")
	}
	scenario(t, "4 × 24 MiB snapshots at once into --max-memory 64M", "n/a (raw clients)", "yes (finished ones read back whole)",
		fmt.Sprintf("%d finished, %d refused", ok, n-ok), "ErrNoSpace naming --max-memory for the others, no hang")
}

// TestFaultManySmallImagesMemory (items 10, 14): 36 images of 1 MiB in
// flight at once into a 1G memory cache: they all complete, and the
// cache's memory is sized to the images (not a 32 MiB arena each).
func TestFaultManySmallImagesMemory(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	cache := startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", p.port,
		"--local-socket", p.cacheSock, "--max-memory", "1G")
	p.proxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := p.store(t, remote.ModeWrite, "small")
	const n = 36
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			iw, err := w.Create(ctx, fmt.Sprintf("pages-%d.img", i))
			if err != nil {
				errs <- err
				return
			}
			b := pattern(i, 1<<20)
			for k := 0; k < len(b); k += 256 << 10 {
				if _, err := iw.Write(b[k : k+256<<10]); err != nil {
					errs <- err
					return
				}
				time.Sleep(20 * time.Millisecond) // keep all 36 in flight at once
			}
			errs <- iw.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	hwm := vmHWM(cache.cmd.Process.Pid) >> 10
	t.Logf("36 MiB in 36 concurrent images; cache peak RSS %d MiB", hwm)
	if hwm > 36+100 {
		t.Fatalf("cache peak RSS %d MiB for 36 MiB of images", hwm)
	}
	scenario(t, "36 concurrent 1 MiB images, --max-memory 1G", "n/a (raw clients)", "yes", "all 36",
		fmt.Sprintf("ok; cache peak RSS %d MiB", hwm))
}

// TestFaultPeerCaps (item 14): one TCP peer holds at most 16 reader
// connections (each may wait for a snapshot that is not there) and 64
// connections in all; a peer without a client certificate that sits
// idle is dropped.
func TestFaultPeerCaps(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", p.port, "--local-socket", p.cacheSock)
	ctx := context.Background()
	port := p.port
	dial := func(role remoteimg.Role) (*remoteimg.Conn, error) {
		nc, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
		if err != nil {
			return nil, err
		}
		rc, err := remoteimg.ClientHandshake(ctx, nc, role)
		if err != nil {
			nc.Close()
			return nil, err
		}
		t.Cleanup(func() { rc.Close() })
		return rc, nil
	}
	// Waiting readers: of 17, one is refused. Which one depends on the
	// order the cache takes their Gets in, so each is read at once.
	var readers []*remoteimg.Conn
	for i := 0; i < 17; i++ {
		rc, err := dial(remoteimg.RoleReader)
		if err != nil {
			t.Fatalf("reader %d: %v", i, err)
		}
		if err := rc.W.WriteMsg(1, &remoteimg.Get{Snapshot: "none", Name: "x.img", WaitMillis: 60_000}); err != nil {
			t.Fatal(err)
		}
		readers = append(readers, rc)
	}
	answers := make([]error, len(readers))
	var wg sync.WaitGroup
	for i, rc := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, m, err := rc.ReadMsg()
			if r, ok := m.(*remoteimg.Result); ok {
				err = remoteimg.ResultError(*r)
			}
			answers[i] = err
		}()
	}
	wg.Wait()
	refusals := 0
	var refused error
	for i, err := range answers {
		var ne net.Error
		switch {
		case errors.Is(err, remoteimg.ErrPermission):
			refusals++
			refused = err
		case errors.As(err, &ne) && ne.Timeout():
			// still waiting, as it should
		default:
			t.Errorf("reader %d: %v, want a refusal (ErrPermission) or still waiting", i, err)
		}
	}
	if refusals != 1 {
		t.Fatalf("%d of 17 waiting readers refused, want 1 (cap 16)", refusals)
	}
	// Connections in all: 16 readers + 48 proxies, then the next fails.
	var conns []*remoteimg.Conn
	for i := 0; i < 48; i++ {
		rc, err := dial(remoteimg.RoleProxy)
		if err != nil {
			t.Fatalf("connection %d: %v", 16+i, err)
		}
		conns = append(conns, rc)
	}
	if _, err := dial(remoteimg.RoleProxy); err == nil {
		t.Fatal("the 65th connection of one peer was accepted")
	}
	// Held open until the 65th was tried: the cap counts live ones.
	for _, c := range conns {
		c.Close()
	}
	// An idle proxy (no certificate, nothing in flight) is dropped.
	port = freePort(t)
	startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", port,
		"--local-socket", filepath.Join(p.dir, "idle.sock"), "--idle-timeout", "1s")
	idle, err := dial(remoteimg.RoleProxy)
	if err != nil {
		t.Fatal(err)
	}
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, _, err := idle.ReadMsg(); err == nil || time.Since(start) > 9*time.Second {
		t.Fatalf("idle unauthenticated peer: %v after %v, want dropped after about 1 s", err, time.Since(start))
	}
	scenario(t, "one TCP peer: 17 waiting readers, 65 connections, an idle one", "n/a (raw clients)", "n/a",
		"16 readers wait, 64 connections, idle ones dropped after --idle-timeout", refused.Error())
}

// TestFaultRecoveryKeepsFinished (item 1): recovery never deletes a
// finished snapshot: with one of its images gone from the cache's -D, the
// restarted cache still lists it, serves the intact image, answers the
// missing one as corrupt, and leaves the files in place.
func TestFaultRecoveryKeepsFinished(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	cache := p.cache(t)
	p.proxy(t)
	ctx := context.Background()
	w := writeOnly(t, p, "kept", map[string][]byte{"a.img": pattern(1, 70_000), "b.img": pattern(2, 80_000)})
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	w2 := writeOnly(t, p, "odd", map[string][]byte{"a.img": pattern(3, 1000)})
	if err := w2.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	cache.kill()
	dir := filepath.Join(p.cacheDir, "snapshots", "kept")
	if err := os.Remove(filepath.Join(dir, "b.img")); err != nil {
		t.Fatal(err)
	}
	// A journal recovery cannot read at all (here: a directory).
	odd := filepath.Join(p.cacheDir, "snapshots", "odd")
	if err := os.Rename(filepath.Join(odd, ".journal"), filepath.Join(odd, "journal.saved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(odd, ".journal"), 0o700); err != nil {
		t.Fatal(err)
	}
	p.cache(t)
	if _, err := os.Stat(filepath.Join(odd, "a.img")); err != nil {
		t.Fatalf("recovery deleted a snapshot whose journal it could not read: %v", err)
	}
	w4, err := remote.Dial(ctx, p.proxySock, remote.Options{Snapshot: "odd", Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer w4.Close()
	werr := writeImage(ctx, w4, "a.img", pattern(5, 10))
	if ferr := w4.Finish(ctx); !errors.Is(werr, remoteimg.ErrExist) && !errors.Is(ferr, remoteimg.ErrExist) {
		t.Fatalf("new dump over the unreadable kept snapshot: write %v, finish %v; want ErrExist", werr, ferr)
	}
	if _, err := os.Stat(filepath.Join(odd, "a.img")); err != nil {
		t.Fatalf("a new dump deleted the unreadable kept snapshot: %v", err)
	}
	snaps, err := remote.ListSnapshots(ctx, p.cacheSock)
	if err != nil || len(snaps) != 1 || snaps[0].ID != "kept" || !snaps[0].Finished {
		t.Fatalf("after the restart the cache lists %+v (%v), want the finished snapshot", snaps, err)
	}
	rd := p.store(t, remote.ModeRead, "kept")
	if got, err := readImage(ctx, rd, "a.img"); err != nil || !bytes.Equal(got, pattern(1, 70_000)) {
		t.Fatalf("intact image: %v", err)
	}
	_, berr := readImage(ctx, rd, "b.img")
	if !errors.Is(berr, remoteimg.ErrCorrupt) {
		t.Fatalf("missing image: %v, want ErrCorrupt", berr)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.img")); err != nil {
		t.Fatalf("recovery deleted the damaged finished snapshot: %v", err)
	}
	scenario(t, "finished snapshot under -D lost an image file, cache restarted", "n/a (raw clients)",
		"intact image served whole; files kept", "a.img; b.img answered corrupt", berr.Error())
}
