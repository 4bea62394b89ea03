package mm_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/procfs"
)

// smapsOf is the VmFlags and AnonHugePages (kB) of pid's mapping at addr.
func smapsOf(t *testing.T, pid int, addr uint64) (string, int) {
	t.Helper()
	b, err := os.ReadFile(procfs.Path(pid, "smaps"))
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("%x-", addr)
	var in bool
	var flags string
	huge := -1
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			in = strings.HasPrefix(f[0], head)
		case in && len(f) >= 2 && f[0] == "AnonHugePages:":
			huge, _ = strconv.Atoi(f[1])
		case in && len(f) >= 1 && f[0] == "VmFlags:":
			flags = strings.Join(f[1:], " ")
		}
	}
	if flags == "" || huge < 0 {
		t.Fatalf("no mapping at %#x in %d", addr, pid)
	}
	return flags, huge
}

// A dump and restore through images on tmpfs (where the page copies go
// through mappings of the images, on several cores) gives the task its
// memory, every VmFlag, and huge pages as the kernel gives them: in the
// mapping advised MADV_HUGEPAGE when the task had them there, none in
// the one advised MADV_NOHUGEPAGE; a read-only mapping's pages too.
func TestRestoreHugeAdviceInMemoryImages(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || bytes.Contains(b, []byte("[never]")) {
		t.Skip("no transparent huge pages here")
	}
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "thpheap.c"), false)
	dir, err := os.MkdirTemp("/dev/shm", "mm-thp-test-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out)
	pid := cmd.Process.Pid
	defer crtest.Kill(pid)
	crtest.WaitFor(t, out, "READY\n", 10*time.Second)
	b, _ := os.ReadFile(out)
	var addrs [3]uint64
	if _, err := fmt.Sscanf(string(b), "%x %x %x", &addrs[0], &addrs[1], &addrs[2]); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	type state struct {
		flags string
		huge  int
	}
	var before [3]state
	for i, a := range addrs {
		before[i].flags, before[i].huge = smapsOf(t, pid, a)
	}
	if !strings.Contains(before[0].flags, "hg") || !strings.Contains(before[1].flags, "nh") {
		t.Fatalf("advice not in VmFlags: %q, %q", before[0].flags, before[1].flags)
	}
	imgs := filepath.Join(dir, "img")
	if err := os.Mkdir(imgs, 0o755); err != nil {
		t.Fatal(err)
	}
	criuIn(t, imgs, "dump", "dump", "-t", strconv.Itoa(pid), "-D", imgs)
	cmd.Wait()
	rpid := restoreCmd(t, imgs)
	defer crtest.Kill(rpid)
	for i, a := range addrs {
		flags, huge := smapsOf(t, rpid, a)
		if flags != before[i].flags {
			t.Errorf("mapping %d at %#x: VmFlags %q, dumped with %q", i, a, flags, before[i].flags)
		}
		switch {
		case i == 0 && before[0].huge > 0 && huge == 0:
			t.Errorf("the MADV_HUGEPAGE mapping had %d kB of huge pages, restored with none", before[0].huge)
		case i == 1 && huge != 0:
			t.Errorf("the MADV_NOHUGEPAGE mapping restored with %d kB of huge pages", huge)
		}
		t.Logf("mapping %d: AnonHugePages %d kB, dumped with %d kB", i, huge, before[i].huge)
	}
	unix.Kill(rpid, unix.SIGUSR2)
	crtest.Verdict(t, out, "PASS", 30*time.Second)
}
