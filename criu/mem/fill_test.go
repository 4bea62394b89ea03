package mem_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/mem"
)

// vmFlags is the VmFlags line of this process's mapping holding addr.
func vmFlags(t *testing.T, addr uint64) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			var lo, hi uint64
			fmt.Sscanf(f[0], "%x-%x", &lo, &hi)
			in = lo <= addr && addr < hi
		} else if in && strings.HasPrefix(l, "VmFlags:") {
			return l
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}

// A Filler fills a fresh mapping through a userfaultfd of its mm (here
// this process's own), a page that is already there included; a kernel
// write into a page still missing fails (EFAULT) rather than waiting;
// Close leaves the mapping as it was, no "um" in its VmFlags (it may
// merge with a neighbour then, as it could have when it was mapped).
func TestFiller(t *testing.T) {
	crtest.RequireRoot(t)
	const size = 8 << 20
	m, err := unix.Mmap(-1, 0, size+mem.PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	base := uint64(uintptr(unsafe.Pointer(&m[0])))
	m[mem.PageSize] = 7 // page 1 is there before the fill
	fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, mem.FillUserfaultfdFlags, 0, 0)
	if e != 0 {
		t.Skipf("userfaultfd: %v", e)
	}
	before := vmFlags(t, base)
	pid := os.Getpid()
	f, err := mem.NewFiller(pid, int(fd))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Register(mem.Range{Start: base, End: base + size}) {
		t.Fatal("a private anonymous mapping was not registered")
	}
	if !strings.Contains(vmFlags(t, base), " um") {
		t.Fatalf("registered, yet %q", vmFlags(t, base))
	}
	want := make([]byte, size+mem.PageSize)
	for i := range want {
		want[i] = byte(i*7 + i>>12)
	}
	// The last page, outside the registered range, is written with
	// process_vm_writev in the same call.
	rs := []mem.Range{{Start: base, End: base + size - mem.PageSize}, {Start: base + size, End: base + size + mem.PageSize}}
	buf := append(append([]byte(nil), want[:size-mem.PageSize]...), want[size:]...)
	if err := f.Write(pid, rs, buf); err != nil {
		t.Fatal(err)
	}
	// The page left missing: the kernel may not wait for it.
	last := mem.Range{Start: base + size - mem.PageSize, End: base + size}
	if err := mem.WriteRemote(pid, []mem.Range{last}, want[size-mem.PageSize:size]); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("process_vm_writev into a missing registered page: %v, want EFAULT", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if got := vmFlags(t, base); got != before {
		t.Fatalf("VmFlags after the fill %q, before %q", got, before)
	}
	copy(m[size-mem.PageSize:size], want[size-mem.PageSize:size]) // no longer registered: an ordinary fault
	if !bytes.Equal(m, want) {
		t.Fatal("the mapping does not hold what was written")
	}
}
