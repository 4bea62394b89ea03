package shmem

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/internal/linux"
)

// TestAnonFile: a file of shared anonymous memory (opened through
// map_files, read-write: a writer, which a memfd's fd is not) is taken
// as one, named /dev/zero as CRIU names it; a memfd named /dev/zero,
// which CRIU's image would make one, is refused by name; a tmpfs file
// that only reads like one is not one.
func TestAnonFile(t *testing.T) {
	b, err := unix.Mmap(-1, 0, 2*4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	start := linux.SliceAddr(b)
	fd, err := unix.Open(fmt.Sprintf("/proc/self/map_files/%x-%x", start, start+uintptr(len(b))), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	link := fmt.Sprintf("/proc/self/fd/%d", fd)
	target, _ := os.Readlink(link)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	if !IsAnon(target, st.Dev) {
		t.Fatalf("%s (dev %#x) is not taken as shared anonymous memory", target, st.Dev)
	}
	var ms Memfds
	if _, err := ms.Add(link, target, &Set{}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if e := ms.entries[0]; e.GetName() != anonName || !isAnonInode(e) || e.GetSize() != 2*4096 {
		t.Errorf("saved as %q of %d bytes", e.GetName(), e.GetSize())
	}

	named, err := unix.MemfdCreate(anonName, unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(named)
	if _, err := ms.Add(fmt.Sprintf("/proc/self/fd/%d", named), "/memfd:/dev/zero (deleted)", &Set{}); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("a memfd named /dev/zero: %v, want a refusal", err)
	}
	if IsAnon(target, st.Dev+1) {
		t.Error("a file of another device named /dev/zero (deleted) is taken as shared anonymous memory")
	}
}
