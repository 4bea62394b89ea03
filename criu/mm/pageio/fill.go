package pageio

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
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

// Writers writes batches of pages into a task's memory (with
// process_vm_writev, or UFFDIO_COPY: mem.Filler) on several goroutines
// at once. Writing into fresh
// memory is mostly the kernel faulting it in (zeroing a page, then
// copying into it): on two cores the two halves of 1 GiB are filled in
// about the time of one. The batches must not overlap.
type Writers struct {
	write func(rs []mem.Range, b []byte) error
	jobs  chan writeJob
	wg    sync.WaitGroup

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

// NewWriters starts n writers, each writing with write (which must be
// safe to call from several goroutines at once).
func NewWriters(n int, write func(rs []mem.Range, b []byte) error) *Writers {
	w := &Writers{write: write, jobs: make(chan writeJob)}
	for range max(1, n) {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := range w.jobs {
				if w.failed() == nil {
					if err := w.write(j.rs, j.b); err != nil {
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

// thpSettings are the THP modes of this machine: the top one
// (/sys/kernel/mm/transparent_hugepage/enabled) and each size's
// (hugepages-*kB/enabled: always, inherit, madvise or never), read once.
var thpSettings = sync.OnceValues(func() (string, []string) {
	const dir = "/sys/kernel/mm/transparent_hugepage"
	top := thpMode(filepath.Join(dir, "enabled"))
	var sizes []string
	ms, _ := filepath.Glob(filepath.Join(dir, "hugepages-*kB", "enabled"))
	for _, m := range ms {
		sizes = append(sizes, thpMode(m))
	}
	return top, sizes
})

// thpMode is the bracketed mode of a THP setting file, "never" when
// there is none.
func thpMode(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "never"
	}
	s := string(b)
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return "never"
	}
	return s[i+1 : j]
}

// HugeOnFault says whether the kernel may give a huge page (of any
// size) on a fault in a private anonymous mapping, by this machine's
// THP settings; hg: the mapping has MADV_HUGEPAGE. It does not know of
// MADV_NOHUGEPAGE or PR_SET_THP_DISABLE, which give none.
func HugeOnFault(hg bool) bool {
	top, sizes := thpSettings()
	return hugeOnFault(top, sizes, hg)
}

// hugeOnFault is HugeOnFault for the top mode and the sizes' modes.
func hugeOnFault(top string, sizes []string, hg bool) bool {
	if len(sizes) == 0 {
		sizes = []string{"inherit"}
	}
	for _, m := range sizes {
		if m == "inherit" {
			m = top
		}
		if m == "always" || m == "madvise" && hg {
			return true
		}
	}
	return false
}
