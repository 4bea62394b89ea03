package mem

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// PageSize is the base page size on x86_64.
const PageSize = 4096

// Pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	PMPresent   = 1 << 63
	PMSwap      = 1 << 62
	PMFile      = 1 << 61
	PMExclusive = 1 << 56
	PMGuard     = 1 << 58 // a guard region page (MADV_GUARD_INSTALL), Linux 6.14+
	PMPFNMask   = (1 << 55) - 1
)

// PrivatePage reports whether pagemap entry pm of a private file mapping
// is a page of the mapping's own (copied on write, or swapped), not the
// file's. A guard region page reads as a swap entry: it is none.
func PrivatePage(pm uint64) bool {
	return pm&PMGuard == 0 && (pm&PMSwap != 0 || (pm&PMPresent != 0 && pm&PMFile == 0))
}

// Range is a half-open address range [Start, End).
type Range struct{ Start, End uint64 }

// Len is the range's size in bytes.
func (r Range) Len() uint64 { return r.End - r.Start }

// Pagemap is an open /proc/PID/pagemap.
type Pagemap struct{ f *os.File }

// OpenPagemap opens /proc/PID/pagemap.
func OpenPagemap(pid int) (*Pagemap, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, err
	}
	return &Pagemap{f: f}, nil
}

// Close closes the pagemap. Safe twice.
func (p *Pagemap) Close() error {
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	return err
}

// Read returns the pagemap entries of the pages of r.
func (p *Pagemap) Read(r Range) ([]uint64, error) {
	n := r.Len() / PageSize
	buf := make([]byte, n*8)
	if _, err := p.f.ReadAt(buf, int64(r.Start/PageSize*8)); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read pagemap %#x-%#x: %w", r.Start, r.End, err)
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[i*8:])
	}
	return out, nil
}

// Runs turns per-page entries of a range starting at start into runs of
// consecutive pages for which keep returns true.
func Runs(start uint64, ents []uint64, keep func(uint64) bool) []Range {
	var out []Range
	for i := 0; i < len(ents); {
		if !keep(ents[i]) {
			i++
			continue
		}
		j := i
		for j < len(ents) && keep(ents[j]) {
			j++
		}
		out = append(out, Range{start + uint64(i)*PageSize, start + uint64(j)*PageSize})
		i = j
	}
	return out
}

// iovMax is the kernel's IOV_MAX.
const iovMax = 1024

// ReadRemote reads the ranges of pid's memory, in order, into buf (which
// must be exactly as long as the ranges together).
func ReadRemote(pid int, rs []Range, buf []byte) error {
	return vmTransfer(pid, rs, buf, false)
}

// ReadEach reads the ranges of pid's memory one by one into buf (as
// long as the ranges together): a range that cannot be read is left
// zero, and failed is called with it.
func ReadEach(pid int, rs []Range, buf []byte, failed func(Range, error)) {
	off := uint64(0)
	for _, r := range rs {
		b := buf[off : off+r.Len()]
		if err := ReadRemote(pid, []Range{r}, b); err != nil {
			clear(b)
			failed(r, err)
		}
		off += r.Len()
	}
}

// WriteRemote writes buf into pid's memory at the ranges, in order.
func WriteRemote(pid int, rs []Range, buf []byte) error {
	return vmTransfer(pid, rs, buf, true)
}

func vmTransfer(pid int, rs []Range, buf []byte, write bool) error {
	off := 0
	for len(rs) > 0 {
		n := min(len(rs), iovMax)
		remote := make([]unix.RemoteIovec, n)
		total := 0
		for i, r := range rs[:n] {
			remote[i] = unix.RemoteIovec{Base: uintptr(r.Start), Len: int(r.Len())}
			total += int(r.Len())
		}
		if off+total > len(buf) {
			return fmt.Errorf("process_vm: buffer of %d bytes too short for %d", len(buf), off+total)
		}
		local := []unix.Iovec{{Base: &buf[off]}}
		local[0].SetLen(total)
		var got int
		var err error
		if write {
			got, err = linux.ProcessVMWritev(pid, local, remote)
		} else {
			got, err = linux.ProcessVMReadv(pid, local, remote)
		}
		name := "process_vm_readv"
		if write {
			name = "process_vm_writev"
		}
		if err != nil {
			return fmt.Errorf("%s %d at %#x: %w", name, pid, rs[0].Start, err)
		}
		if got != total {
			// Partial: advance past what was done and retry the rest;
			// a range that transfers nothing is an error.
			if got == 0 {
				return fmt.Errorf("%s %d at %#x: no progress", name, pid, rs[0].Start)
			}
			done := got
			i := 0
			for i < n && int(rs[i].Len()) <= done {
				done -= int(rs[i].Len())
				i++
			}
			off += got
			rest := append([]Range{}, rs[i:]...)
			if done > 0 {
				rest[0].Start += uint64(done)
			}
			rs = rest
			continue
		}
		off += total
		rs = rs[n:]
	}
	return nil
}

// File is /proc/PID/mem, which reads and writes through any protection
// (FOLL_FORCE) for a tracer.
type File struct{ f *os.File }

// OpenFile opens /proc/PID/mem read-write.
func OpenFile(pid int) (*File, error) {
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/mem", pid), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &File{f: f}, nil
}

// ReadAt reads len(b) bytes at addr.
func (m *File) ReadAt(b []byte, addr uint64) error {
	_, err := m.f.ReadAt(b, int64(addr))
	if err != nil {
		return fmt.Errorf("read /proc/mem at %#x: %w", addr, err)
	}
	return nil
}

// WriteAt writes b at addr.
func (m *File) WriteAt(b []byte, addr uint64) error {
	_, err := m.f.WriteAt(b, int64(addr))
	if err != nil {
		return fmt.Errorf("write /proc/mem at %#x: %w", addr, err)
	}
	return nil
}

// Close closes the file. Safe twice.
func (m *File) Close() error {
	if m.f == nil {
		return nil
	}
	err := m.f.Close()
	m.f = nil
	return err
}

// SharedRuns are the runs of pages, of a range starting at start, that
// two tasks map to the same physical page: both pagemap entries present
// (not swapped) with the same, nonzero, PFN. PFNs read as zero without
// CAP_SYS_ADMIN, and then no page counts as shared.
func SharedRuns(start uint64, a, b []uint64) []Range {
	n := min(len(a), len(b))
	same := make([]uint64, n)
	for i := 0; i < n; i++ {
		pa, pb := a[i], b[i]
		if pa&PMPresent != 0 && pb&PMPresent != 0 && pa&PMSwap == 0 && pb&PMSwap == 0 &&
			pa&PMPFNMask != 0 && pa&PMPFNMask == pb&PMPFNMask {
			same[i] = 1
		}
	}
	return Runs(start, same, func(e uint64) bool { return e != 0 })
}

// Differing compares the task's memory at r (read through /proc/PID/mem,
// which does not unshare what it reads, unlike process_vm_readv) with
// want, page by page, and returns the runs of pages that differ and the
// bytes of those that are the same.
func (f *File) Differing(r Range, want []byte) ([]Range, uint64, error) {
	cur := make([]byte, r.Len())
	if err := f.ReadAt(cur, r.Start); err != nil {
		return nil, 0, err
	}
	var out []Range
	var same uint64
	for off := uint64(0); off < r.Len(); off += PageSize {
		if bytes.Equal(cur[off:off+PageSize], want[off:off+PageSize]) {
			same += PageSize
			continue
		}
		a := r.Start + off
		if n := len(out); n > 0 && out[n-1].End == a {
			out[n-1].End += PageSize
		} else {
			out = append(out, Range{Start: a, End: a + PageSize})
		}
	}
	return out, same, nil
}
