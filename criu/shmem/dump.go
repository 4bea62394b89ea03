package shmem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/proto/images"
)

// PagemapImage is the name of object id's pagemap image.
func PagemapImage(id uint64) string { return fmt.Sprintf("pagemap-shmem-%d.img", id) }

// Set collects, during a dump, the shared memory objects of the tree.
// It is used by one goroutine.
type Set struct {
	objs map[uint64]*object
}

// object is one shared memory object and where to read it.
type object struct {
	id   uint64
	link string // a /proc magic link that opens it
	size uint64 // bytes to save: its furthest use in the tree
}

// AddMapping records the shared anonymous mapping [start, end) of pid at
// offset pgoff of object id. The first mapping seen is the one the
// object is read through.
func (s *Set) AddMapping(id uint64, pid int, start, end, pgoff uint64) {
	link := fmt.Sprintf("/proc/%d/map_files/%x-%x", pid, start, end)
	s.add(id, link, pgoff+end-start)
}

// AddFile records object id, to be read through link, size bytes long.
func (s *Set) AddFile(id uint64, link string, size uint64) {
	s.add(id, link, size)
}

func (s *Set) add(id uint64, link string, size uint64) {
	if s.objs == nil {
		s.objs = map[uint64]*object{}
	}
	o := s.objs[id]
	if o == nil {
		o = &object{id: id, link: link}
		s.objs[id] = o
	}
	o.size = max(o.size, size)
}

// Len is the number of objects recorded.
func (s *Set) Len() int { return len(s.objs) }

// Write saves every object recorded: pagemap-shmem-ID.img and a pages
// image numbered by nextPages. It returns the pages written. The tree
// must be frozen.
func (s *Set) Write(ctx context.Context, st image.Store, nextPages func() uint32) (uint64, error) {
	ids := make([]uint64, 0, len(s.objs))
	for id := range s.objs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var pages uint64
	for _, id := range ids {
		n, err := s.objs[id].write(ctx, st, nextPages())
		if err != nil {
			return pages, fmt.Errorf("shared memory %d: %w", id, err)
		}
		pages += n
	}
	return pages, nil
}

// write saves one object.
func (o *object) write(ctx context.Context, st image.Store, pagesID uint32) (uint64, error) {
	f, err := os.Open(o.link)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", o.link, err)
	}
	defer f.Close()
	runs, err := DataRuns(int(f.Fd()), o.size)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", o.link, err)
	}
	msgs := []proto.Message{&images.PagemapHead{PagesId: proto.Uint32(pagesID)}}
	var total uint64
	for _, r := range runs {
		n := r.Len() / mem.PageSize
		total += n
		msgs = append(msgs, &images.PagemapEntry{
			Vaddr: proto.Uint64(r.Start), CompatNrPages: proto.Uint32(uint32(n)),
			NrPages: proto.Uint64(n), Flags: proto.Uint32(image.PePresent),
		})
	}
	if err := image.WriteImage(ctx, st, PagemapImage(o.id), msgs...); err != nil {
		return 0, err
	}
	name := fmt.Sprintf("pages-%d.img", pagesID)
	w, err := st.Create(ctx, name)
	if err != nil {
		return 0, err
	}
	committed := false
	defer func() {
		if !committed {
			w.Abort()
		}
	}()
	buf := mem.AlignedBuffer(int(min(chunk, total*mem.PageSize)))
	for _, r := range runs {
		for off := r.Start; off < r.End; {
			n := min(uint64(len(buf)), r.End-off)
			got, err := f.ReadAt(buf[:n], int64(off))
			if errors.Is(err, io.EOF) {
				// The last page of a file whose size is not page aligned.
				clear(buf[got:n])
				err = nil
			}
			if err != nil {
				return 0, fmt.Errorf("read %s at %#x: %w", o.link, off, err)
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return 0, fmt.Errorf("write %s: %w", name, err)
			}
			off += n
		}
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("commit %s: %w", name, err)
	}
	committed = true
	return total, nil
}

// chunk bounds one read of an object.
const chunk = 4 << 20

// DataRuns lists the page-aligned runs of [0, size) of the file fd that
// hold data, by lseek SEEK_DATA/SEEK_HOLE.
func DataRuns(fd int, size uint64) ([]mem.Range, error) {
	size = (size + mem.PageSize - 1) &^ (mem.PageSize - 1)
	var out []mem.Range
	for off := uint64(0); off < size; {
		d, err := unix.Seek(fd, int64(off), unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // no data after off
		}
		if err != nil {
			return nil, os.NewSyscallError("lseek(SEEK_DATA)", err)
		}
		h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
		if err != nil {
			return nil, os.NewSyscallError("lseek(SEEK_HOLE)", err)
		}
		start := uint64(d) &^ (mem.PageSize - 1)
		end := min((uint64(h)+mem.PageSize-1)&^(mem.PageSize-1), size)
		if start >= size {
			break
		}
		if n := len(out); n > 0 && out[n-1].End >= start {
			out[n-1].End = max(out[n-1].End, end)
		} else if end > start {
			out = append(out, mem.Range{Start: start, End: end})
		}
		if uint64(h) <= off {
			return nil, fmt.Errorf("lseek(SEEK_HOLE) from %#x gave %#x", d, h)
		}
		off = end
	}
	return out, nil
}
