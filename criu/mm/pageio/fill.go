package pageio

import (
	"io"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
)

// Mapped is a pages-N.img mapped read-only into this process: its bytes
// are the page cache's, copied into the task by process_vm_writev with
// no read(2) into a buffer in between (one copy instead of two, and no
// buffer of ours to fault in).
type Mapped struct{ b []byte }

// MapImage maps the image rd reads when it is a file in memory (tmpfs:
// image.FileReader, InMemory) holding at least size bytes; ok is false
// when it is not (a remote image, one on a disk, which the store reads
// around the page cache, or one too short: read it then, and the read
// tells what is wrong). The mapping is not populated up front: that
// takes one core for 70 to 130 ms a GiB here, while the copies fault it
// in as they go, 16 pages a fault (fault-around), on every writer's
// core.
func MapImage(rd io.Reader, size uint64) (m *Mapped, ok bool, err error) {
	fr, isFile := rd.(image.FileReader)
	if !isFile || size == 0 {
		return nil, false, nil
	}
	f := fr.File()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || uint64(st.Size()) < size || !InMemory(f) {
		return nil, false, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false, os.NewSyscallError("mmap "+f.Name(), err)
	}
	return &Mapped{b: b}, true, nil
}

// Bytes are the n bytes at offset off of the image.
func (m *Mapped) Bytes(off, n uint64) []byte { return m.b[off : off+n : off+n] }

// Close unmaps the image. Safe twice; nothing may use Bytes after.
func (m *Mapped) Close() error {
	if m == nil || m.b == nil {
		return nil
	}
	err := unix.Munmap(m.b)
	m.b = nil
	return err
}

// Writers writes batches of pages into a task's memory with
// process_vm_writev on several goroutines at once. Writing into fresh
// memory is mostly the kernel faulting it in (zeroing a page, then
// copying into it): on two cores the two halves of 1 GiB are filled in
// about the time of one. The batches must not overlap.
type Writers struct {
	pid  int
	jobs chan writeJob
	wg   sync.WaitGroup

	mu  sync.Mutex // protects err
	err error      // the first write that failed
}

type writeJob struct {
	rs   []mem.Range
	b    []byte
	done func()
}

// Parallel is how many goroutines write at once: one a CPU, at most 4
// (the kernel's fault path does not scale past a few in one mm).
func Parallel() int { return min(4, max(1, runtime.NumCPU())) }

// NewWriters starts n writers into pid's memory.
func NewWriters(pid, n int) *Writers {
	w := &Writers{pid: pid, jobs: make(chan writeJob)}
	for range max(1, n) {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := range w.jobs {
				if w.failed() == nil {
					if err := mem.WriteRemote(w.pid, j.rs, j.b); err != nil {
						w.mu.Lock()
						if w.err == nil {
							w.err = err
						}
						w.mu.Unlock()
					}
				}
				if j.done != nil {
					j.done()
				}
			}
		}()
	}
	return w
}

func (w *Writers) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Write writes b at the ranges rs, in order, on the next free writer,
// and then calls done (if not nil), which may give back b. After a
// write failed, the next ones are not made (done is still called).
func (w *Writers) Write(rs []mem.Range, b []byte, done func()) {
	w.jobs <- writeJob{rs: rs, b: b, done: done}
}

// Wait waits for every write and returns the first error. Call it once,
// after the last Write.
func (w *Writers) Wait() error {
	close(w.jobs)
	w.wg.Wait()
	return w.failed()
}

// InMemory says whether f is a file of a memory file system (tmpfs,
// ramfs), whose pages are the page cache's and nowhere else.
func InMemory(f *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}
