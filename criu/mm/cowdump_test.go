package mm_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
)

// region is a writer's memory: its address and pages.
type region struct{ addr, pages uint64 }

// startWriter starts testdata/cowwriter with mib MiB for each of
// threads writers in mode, and waits until it writes.
func startWriter(t *testing.T, dir string, mib, threads int, mode string) (int, string) {
	t.Helper()
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "cowwriter.c"), false)
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, strconv.Itoa(mib), strconv.Itoa(threads), mode)
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, out, "READY\n", 60*time.Second)
	time.Sleep(50 * time.Millisecond) // the writers are at it
	return pid, out
}

// TestCOWDump: dump --leave-running of writers that rewrite their
// memory without a pause, page after page, generation after
// generation, is copy-on-write (the tree runs while its pages are
// copied), and the restored memory is exactly the memory at the freeze:
// the workload checks every page against the position its writer had
// then (a page copied after it was written again is of a generation
// too new). One writer; four threads writing; a main thread forking
// children that write all over their copy meanwhile.
func TestCOWDump(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	for _, tc := range []struct {
		name         string
		mib, threads int
		mode         string
	}{
		{"writer", 64, 1, "plain"},
		{"threads", 16, 4, "plain"},
		{"fork", 32, 1, "fork"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pid, out := startWriter(t, dir, tc.mib, tc.threads, tc.mode)
			imgs := filepath.Join(dir, "img")
			os.Mkdir(imgs, 0o755)
			args := []string{"dump", "-t", strconv.Itoa(pid), "-D", imgs, "-R", "-v4", "-o", filepath.Join(imgs, "dump.log")}
			for try := 1; ; try++ {
				res, err := crtest.Run(context.Background(), crtest.Criu(t), args...)
				if err == nil {
					break
				}
				// A child the freeze found, which exits before its pages
				// are copied, fails the dump: dump again.
				if tc.mode != "fork" || try == 5 || !strings.Contains(res, "exec'd") {
					log, _ := os.ReadFile(filepath.Join(imgs, "dump.log"))
					t.Fatalf("dump: %v\n%s\n%s", err, res, log)
				}
				t.Logf("dump %d: %s", try, strings.TrimSpace(res))
			}
			log, _ := os.ReadFile(filepath.Join(imgs, "dump.log"))
			m := regexp.MustCompile(`copy-on-write snapshot copied while the tree ran .*write_faults=(\d+)`).FindSubmatch(log)
			if m == nil {
				t.Fatalf("no copy-on-write dump:\n%s", log)
			}
			// The writers never stop: some page is written before the
			// stream reaches it.
			if n, _ := strconv.Atoi(string(m[1])); n == 0 && tc.mode == "plain" {
				t.Errorf("no write fault answered during the copy: the tree did not run")
			}
			st := dumpStats(t, imgs)
			t.Logf("frozen %d us, memdump %d us, %d pages", st.GetFrozenTime(), st.GetMemdumpTime(), st.GetPagesWritten())
			if st.GetPagesWritten() < uint64(tc.mib*tc.threads)<<8 {
				t.Errorf("%d pages written, want the writers' %d at least", st.GetPagesWritten(), tc.mib*tc.threads<<8)
			}
			checkUnarmed(t, pid)
			if err := checkImages(t, imgs, pid, out); err != nil {
				t.Fatalf("the snapshot is not the memory at the freeze: %v", err)
			}
			kids := children(pid)
			crtest.Kill(pid)
			for _, k := range kids {
				crtest.Kill(k)
			}
			rpid := restoreCmd(t, imgs)
			defer crtest.Kill(rpid)
			for _, k := range children(rpid) {
				defer crtest.Kill(k)
			}
			time.Sleep(50 * time.Millisecond)
			if err := unix.Kill(rpid, unix.SIGUSR2); err != nil {
				t.Fatal(err)
			}
			crtest.Verdict(t, out, "PASS", 30*time.Second)
			b, _ := os.ReadFile(out)
			t.Logf("restored: %s", strings.TrimSpace(string(b)))
		})
	}
}

// TestCOWDumpCheckFails: the workload's check does fail on a snapshot
// that is not the memory at the freeze: one page of a writer's region
// made a generation newer in pages-1.img.
func TestCOWDumpCheckFails(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	dir := t.TempDir()
	pid, out := startWriter(t, dir, 16, 1, "plain")
	imgs := filepath.Join(dir, "img")
	os.Mkdir(imgs, 0o755)
	criuIn(t, imgs, "dump", "dump", "-t", strconv.Itoa(pid), "-D", imgs, "-R")
	crtest.Kill(pid)
	// The writer's region is the largest run of the pagemap.
	s, err := image.NewDir(imgs)
	if err != nil {
		t.Fatal(err)
	}
	_, ents, err := image.ReadPagemap(context.Background(), s, fmt.Sprintf("pagemap-%d.img", pid))
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	var off, best, bestOff uint64
	for _, e := range ents {
		n := image.NrPages(e)
		if e.GetFlags()&image.PePresent == 0 {
			continue
		}
		if n > best {
			best, bestOff = n, off
		}
		off += n
	}
	if best < 16<<8 {
		t.Fatalf("no run of the writer's %d pages in the pagemap", 16<<8)
	}
	f, err := os.OpenFile(filepath.Join(imgs, "pages-1.img"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Page 3/4 into the region: whatever generation it holds, all ones
	// is none of the workload's tags.
	junk := make([]byte, mem.PageSize)
	for i := range junk {
		junk[i] = 0xff
	}
	_, err = f.WriteAt(junk, int64((bestOff+best*3/4)*mem.PageSize))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	err = checkImages(t, imgs, pid, out)
	if err == nil {
		t.Fatal("the check passed a page no writer wrote")
	}
	t.Logf("the check fails as it must: %v", err)
}

// TestCOWDumpDiscard: a tree that discards pages of its memory without
// writing them (MADV_DONTNEED, a page a millisecond of a region filled
// before the dump) while criu copies them: the REMOVE event waits until
// it is read, so the pages left are copied first, and the snapshot holds
// the discarded pages as they were at the freeze.
func TestCOWDumpDiscard(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	var pid int
	var out, imgs string
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		pid, out = startWriter(t, dir, 96, 1, "discard") // above the 64 MiB it drops
		imgs = filepath.Join(dir, "img")
		os.Mkdir(imgs, 0o755)
		res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", imgs, "-R", "-v4", "-o", filepath.Join(imgs, "dump.log"))
		if err == nil {
			break
		}
		// A discard that comes in the instant between the copier's look
		// for events and its read fails the dump by name, the tree left
		// running ("dump again"): so it is tried again, on a new writer.
		if attempt < 3 && strings.Contains(res, "before criu copied them: dump again") {
			if !crtest.Alive(pid) {
				t.Fatalf("the tree is gone after a refused dump:\n%s", res)
			}
			t.Logf("attempt %d refused, as it may be: %s", attempt, strings.SplitN(res, "\n", 2)[0])
			crtest.Kill(pid)
			continue
		}
		log, _ := os.ReadFile(filepath.Join(imgs, "dump.log"))
		t.Fatalf("dump -R: %v\n%s\n%s", err, res, log)
	}
	if log, _ := os.ReadFile(filepath.Join(imgs, "dump.log")); !strings.Contains(string(log), "pages copied ahead of a memory event") {
		t.Errorf("no page copied ahead of MADV_DONTNEED: the test did not test it")
	}
	if err := checkImages(t, imgs, pid, out); err != nil {
		t.Fatalf("the snapshot is not the memory at the freeze: %v", err)
	}
	// The region it discards: what was there at the freeze was 0x77.
	b, _ := os.ReadFile(out)
	var junk region
	for _, l := range strings.Split(string(b), "\n") {
		fmt.Sscanf(l, "JUNK %x %d", &junk.addr, &junk.pages)
	}
	ents, pages := readImagePages(t, imgs, pid)
	n := 0
	for a, off := range ents {
		if a < junk.addr || a >= junk.addr+junk.pages*mem.PageSize {
			continue
		}
		n++
		for _, c := range pages[off : off+mem.PageSize] {
			if c != 0x77 {
				t.Fatalf("discarded page %#x is not as it was at the freeze", a)
			}
		}
	}
	t.Logf("%d pages of the discarded region in the snapshot", n)
	if n < int(junk.pages)/2 {
		t.Errorf("%d pages of the %d of the region discarded a page a millisecond: most were there at the freeze", n, junk.pages)
	}
	checkUnarmed(t, pid)
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 30*time.Second)
}

// TestCOWDumpUnmapped: a tree that unmaps pages of its memory without
// writing them (munmap, a page a millisecond) before criu copied them
// cannot be saved as it was at the freeze (UNMAP comes after the pages
// are gone): the dump fails, naming what the task did, and leaves the
// tree running as before, no page protected, no uffd left, its memory
// intact.
func TestCOWDumpUnmapped(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	dir := t.TempDir()
	pid, out := startWriter(t, dir, 96, 1, "unmap")
	imgs := filepath.Join(dir, "img")
	os.Mkdir(imgs, 0o755)
	res, err := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", imgs, "-R",
		"-v4", "-o", filepath.Join(imgs, "dump.log"))
	if err == nil {
		t.Fatalf("dump succeeded; want it refused:\n%s", res)
	}
	if !strings.Contains(res, "unmapped (munmap)") || !strings.Contains(res, "the tree runs on") {
		t.Fatalf("dump failed with %v:\n%s\nwant it to name the munmap", err, res)
	}
	if _, err := os.Stat(filepath.Join(imgs, "inventory.img")); err == nil {
		t.Errorf("a failed dump left inventory.img")
	}
	checkUnarmed(t, pid)
	st1 := writerPos(t, pid)
	time.Sleep(100 * time.Millisecond)
	if st2 := writerPos(t, pid); st2 == st1 {
		t.Errorf("the writer does not run after the failed dump (at %#x)", st1)
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 30*time.Second)
}

// readImagePages maps each page of pid's pagemap flagged present to its
// offset in pages-1.img, and returns that image.
func readImagePages(t *testing.T, imgs string, pid int) (map[uint64]uint64, []byte) {
	t.Helper()
	s, err := image.NewDir(imgs)
	if err != nil {
		t.Fatal(err)
	}
	_, ents, err := image.ReadPagemap(context.Background(), s, fmt.Sprintf("pagemap-%d.img", pid))
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := os.ReadFile(filepath.Join(imgs, "pages-1.img"))
	if err != nil {
		t.Fatal(err)
	}
	at := map[uint64]uint64{}
	var off uint64
	for _, e := range ents {
		if e.GetFlags()&image.PePresent == 0 {
			continue
		}
		for i := range image.NrPages(e) {
			at[e.GetVaddr()+i*mem.PageSize] = off
			off += mem.PageSize
		}
	}
	return at, pages
}

// checkImages checks the writers' regions in the images of pid against
// their positions there: pages below a writer's page hold its
// generation, pages above it the one before, the page at it a prefix of
// its generation over the one before (what the workload checks itself).
// The images hold the memory at the freeze; a restored workload would
// rewrite its pages before it could look.
func checkImages(t *testing.T, imgs string, pid int, out string) error {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var regs []region
	for _, l := range strings.Split(string(b), "\n") {
		var r region
		if n, _ := fmt.Sscanf(l, "REGION %x %d", &r.addr, &r.pages); n == 2 {
			regs = append(regs, r)
		}
	}
	if len(regs) == 0 {
		t.Fatalf("no REGION in %s", out)
	}
	at, pages := readImagePages(t, imgs, pid)
	page := func(a uint64) ([]uint64, error) {
		o, ok := at[a]
		if !ok {
			return nil, fmt.Errorf("page %#x is not in the images", a)
		}
		w := make([]uint64, mem.PageSize/8)
		for i := range w {
			w[i] = binary.LittleEndian.Uint64(pages[o+uint64(i)*8:])
		}
		return w, nil
	}
	tag := func(g, p uint64) uint64 { return g<<40 ^ p*2654435761 ^ 0x5a5a }
	for _, r := range regs {
		st, err := page(r.addr)
		if err != nil {
			return err
		}
		g, pos := st[0]>>32, st[0]&0xffffffff
		for p := uint64(1); p < r.pages; p++ {
			w, err := page(r.addr + p*mem.PageSize)
			if err != nil {
				return err
			}
			newer, older := tag(g, p), tag(g-1, p)
			i := 0
			if p <= pos {
				for i < len(w) && w[i] == newer {
					i++
				}
			}
			if p >= pos {
				for i < len(w) && w[i] == older {
					i++
				}
			}
			if i != len(w) {
				return fmt.Errorf("region %#x: page %d word %d is %#x; the writer was at generation %d page %d", r.addr, p, i, w[i], g, pos)
			}
		}
	}
	return nil
}

// checkUnarmed fails t if pid still has a VMA registered for uffd
// write-protect or a userfaultfd open.
func checkUnarmed(t *testing.T, pid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmFlags:") && strings.Contains(l+" ", " uw ") {
			t.Errorf("a VMA is still registered for write-protect: %s", l)
		}
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); strings.Contains(l, "userfaultfd") {
			t.Errorf("fd %s is a userfaultfd", e.Name())
		}
	}
}

// writerPos reads the first writer's position (its region's first
// word) through /proc/PID/mem: the region is the largest private
// anonymous mapping.
func writerPos(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	var start, size uint64
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		if len(fs) != 5 || !strings.HasPrefix(fs[1], "rw-p") {
			continue
		}
		var s, e uint64
		if _, err := fmt.Sscanf(fs[0], "%x-%x", &s, &e); err == nil && e-s > size {
			start, size = s, e-s
		}
	}
	m, err := mem.OpenFile(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	w := make([]byte, 8)
	if err := m.ReadAt(w, start); err != nil {
		t.Fatal(err)
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(w[i])
	}
	return v
}

// children lists pid's children (of any of its threads).
func children(pid int) []int {
	var out []int
	ths, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, th := range ths {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, th.Name()))
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// TestCOWDumpKilled: a criu worker killed (SIGKILL: no undo of its own)
// while it copies the pages of a copy-on-write dump lets the tree go:
// the uffd was the worker's alone, and its release lifts every
// protection and wakes every writer.
func TestCOWDumpKilled(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	dir := t.TempDir()
	pid, out := startWriter(t, dir, 256, 1, "plain")
	imgs := filepath.Join(dir, "img")
	os.Mkdir(imgs, 0o755)
	logf := filepath.Join(imgs, "dump.log")
	cmd := exec.Command(crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", imgs, "-R", "-v4", "-o", logf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The tree runs again once the images but the pages are written.
	crtest.WaitFor(t, logf, " images t=", 30*time.Second)
	worker := children(cmd.Process.Pid)
	if len(worker) != 1 {
		t.Fatalf("criu has children %v, want its one worker", worker)
	}
	unix.Kill(worker[0], unix.SIGKILL)
	cmd.Process.Kill()
	cmd.Wait()
	crtest.Reap(worker[0]) // ours now: we are a subreaper
	if log, _ := os.ReadFile(logf); strings.Contains(string(log), "snapshot copied") {
		t.Fatalf("the copy of 256 MiB was over before criu was killed:\n%s", log)
	}
	time.Sleep(50 * time.Millisecond)
	checkUnarmed(t, pid)
	st1 := writerPos(t, pid)
	time.Sleep(100 * time.Millisecond)
	if st2 := writerPos(t, pid); st2 == st1 {
		t.Errorf("the writer does not run after criu was killed (at %#x)", st1)
	}
	unix.Kill(pid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 30*time.Second)
}

// TestCOWDumpExec: a task that execs while criu copies its pages fails
// the dump (the pages at the freeze went with the old mm; criu never
// reads the new one in their place), and runs on.
func TestCOWDumpExec(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	dir := t.TempDir()
	pid, _ := startWriter(t, dir, 256, 1, "exec")
	imgs := filepath.Join(dir, "img")
	os.Mkdir(imgs, 0o755)
	logf := filepath.Join(imgs, "dump.log")
	done := make(chan string, 1)
	go func() {
		res, _ := crtest.Run(context.Background(), crtest.Criu(t), "dump", "-t", strconv.Itoa(pid), "-D", imgs, "-R", "-v4", "-o", logf)
		done <- res
	}()
	// The tree runs again once the images but the pages are written.
	crtest.WaitFor(t, logf, " images t=", 30*time.Second)
	unix.Kill(pid, unix.SIGUSR1)
	res := <-done
	if !strings.Contains(res, "exec'd") || !strings.Contains(res, "while criu copied") {
		log, _ := os.ReadFile(logf)
		t.Fatalf("dump of a task that execs during the copy: %s\n%s", res, log)
	}
	if _, err := os.Stat(filepath.Join(imgs, "inventory.img")); err == nil {
		t.Errorf("a failed dump left inventory.img")
	}
	// The task runs on into its exec: under load that can take a while.
	var comm []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if comm, _ = os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "sleep" {
			break
		}
	}
	if strings.TrimSpace(string(comm)) != "sleep" {
		t.Errorf("the task is %q, not the sleep it exec'd", comm)
	}
	checkUnarmed(t, pid)
}

// TestCOWDumpNoPtraceCap: a task without CAP_SYS_PTRACE (a container's,
// with vm.unprivileged_userfaultfd=0) cannot create a uffd whose faults
// wait in kernel mode: its pages are read while it is frozen, said in
// the log, and the dump is exact all the same.
func TestCOWDumpNoPtraceCap(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv (util-linux)")
	}
	if b, _ := os.ReadFile("/proc/sys/vm/unprivileged_userfaultfd"); strings.TrimSpace(string(b)) != "0" {
		t.Skip("vm.unprivileged_userfaultfd is on: any task may create the uffd")
	}
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "cowwriter.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, setpriv, "--bounding-set", "-sys_ptrace", "--inh-caps", "-sys_ptrace", bin, out, "16", "1", "plain")
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, out, "READY\n", 60*time.Second)
	imgs := filepath.Join(dir, "img")
	os.Mkdir(imgs, 0o755)
	criuIn(t, imgs, "dump", "dump", "-t", strconv.Itoa(pid), "-D", imgs, "-R")
	log, _ := os.ReadFile(filepath.Join(imgs, "dump.log"))
	if !strings.Contains(string(log), "no copy-on-write snapshot: the task's pages are read while it is frozen") ||
		strings.Contains(string(log), "snapshot copied while the tree ran") {
		t.Fatalf("a task without CAP_SYS_PTRACE got a snapshot, or no word of it:\n%s", log)
	}
	if err := checkImages(t, imgs, pid, out); err != nil {
		t.Fatalf("the dump is not the memory at the freeze: %v", err)
	}
	checkUnarmed(t, pid)
}
