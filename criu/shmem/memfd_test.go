package shmem

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
)

// TestMemfdWriterRefused: a memfd reopened for writing by path has a
// writer that memfd_create's own fd is not; the image cannot say which
// fd was which, so Add refuses it by name while the reopen is open, and
// takes it once the reopen is closed. A writable shared mapping of
// memfd_create's fd is no writer either.
func TestMemfdWriterRefused(t *testing.T) {
	fd := memfdWith(t, 4096, []int64{0})
	link := fmt.Sprintf("/proc/self/fd/%d", fd)
	m, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	var ms Memfds
	if _, err := ms.Add(link, "/memfd:shmem-test (deleted)", &Set{}); err != nil {
		t.Fatalf("memfd_create's fd and its shared mapping: %v", err)
	}
	w, err := unix.Open(link, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ms2 Memfds
	_, err = ms2.Add(link, "/memfd:shmem-test (deleted)", &Set{})
	unix.Close(w)
	if !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("with a read-write reopen open: %v, want refused as unsupported", err)
	}
	t.Log(err)
	var ms3 Memfds
	if _, err := ms3.Add(link, "/memfd:shmem-test (deleted)", &Set{}); err != nil {
		t.Fatalf("after the reopen closed: %v", err)
	}
}
