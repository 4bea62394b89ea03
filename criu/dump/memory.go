package dump

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/mm"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
)

// The tasks' memory is package mm's: this is what it needs of the
// dumper (mm.DumpTask) and the steps that call it.

// memTask is a frozen task of the tree as package mm sees it.
type memTask struct{ d *dumper }

// Sys injects a syscall into the task's leader. The task must be
// frozen and d.sysIP set.
func (m memTask) Sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	return m.d.injector(m.d.threads[0]).Syscall(name, nr, args...)
}

func (m memTask) MapFile(path, link string, flags uint32) (uint32, error) {
	return m.d.files.addReg(path, link, flags, 0)
}

func (m memTask) MapMemfd(link, target string, flags uint32) (uint32, error) {
	fe, err := m.d.addMemfd(link, target, flags, 0)
	if err != nil {
		return 0, err
	}
	m.d.files.entries = append(m.d.files.entries, fe)
	return fe.GetId(), nil
}

func (m memTask) MapShmem(inode, start, end, off uint64) {
	m.d.t.shmem.AddMapping(inode, m.d.pid, start, end, off)
}

func (m memTask) MapSysv(shmid int) { m.d.t.sysv.Add(shmid) }

// MapSocket records pm, a packet socket's ring, and e, its entry, whose
// shmid resolveSocketMaps sets once the task's fds are recorded.
func (m memTask) MapSocket(pm procfs.Mapping, e *images.VmaEntry) {
	m.d.sockMaps = append(m.d.sockMaps, sockMap{pm, e})
}

// sockMap is a packet socket's ring a task maps, and its mm entry.
type sockMap struct {
	m procfs.Mapping
	e *images.VmaEntry
}

// resolveSocketMaps gives each ring the task maps its socket's file id
// (the mapping is made from that socket at restore, as CRIU 4.2 does),
// once the task's fds are recorded. Refused: a ring whose socket no fd
// of the tree recorded so far holds (the task's own, or an earlier
// task's), and a mapping of part of a ring (mmap takes it whole).
func (d *dumper) resolveSocketMaps() error {
	for _, sm := range d.sockMaps {
		m := sm.m
		id, ok := uint32(0), false
		for k, refs := range d.t.files.descs {
			if k[1] == m.Inode && len(refs) > 0 && refs[0].typ == images.FdTypes_PACKETSK {
				id, ok = refs[0].id, true
			}
		}
		var err error
		switch size := d.t.sockets.PacketRingSize(uint32(m.Inode)); {
		case !ok:
			err = fmt.Errorf("%w: a packet socket's ring whose socket no fd of the tree holds (restore maps it from the socket)", errdefs.ErrUnsupported)
		case m.Offset != 0 || m.End-m.Start != size:
			err = fmt.Errorf("%w: part of a packet socket's ring of %d bytes (restore maps it whole)", errdefs.ErrUnsupported, size)
		}
		if err != nil {
			return &errdefs.VmaError{Start: m.Start, End: m.End, Path: m.Path, Err: err}
		}
		sm.e.Shmid = proto.Uint64(uint64(id))
	}
	d.sockMaps = nil
	return nil
}

// findShared gives every live task its part of the tree's memory dump
// (parents before children), then finds the pages they share
// copy-on-write with their parents (mm.Tree.FindShared). It must run
// before any task's memory is read.
func (t *tree) findShared() error {
	for _, d := range t.tasks {
		if d.zombie {
			continue
		}
		var parent *mm.TaskDump
		if p := t.byPid[d.ppid]; p != nil {
			parent = p.mm // nil for a zombie
		}
		d.mm = t.mm.Add(memTask{d}, d.pid, d.vpid, d.pagesID, parent)
	}
	return t.mm.FindShared()
}

// startIncremental prepares a dump with opts.PrevImages or
// opts.TrackMem, once the tree is frozen (mm.Tree.StartIncremental).
func (t *tree) startIncremental(ctx context.Context, protect bool) error {
	return t.mm.StartIncremental(ctx, t.opts.PrevImages, t.opts.TrackMem, protect)
}

// collectVmas turns smaps into vma entries, registering mapped files.
func (d *dumper) collectVmas(maps []procfs.Mapping) (*mm.Layout, error) { return d.mm.Collect(maps) }

// dumpPages writes pagemap-PID.img and pages-N.img.
func (d *dumper) dumpPages(ctx context.Context, l *mm.Layout) error { return d.mm.DumpPages(ctx, l) }

// dumpMM is the task's mm entry; brk is its brk(0).
func (d *dumper) dumpMM(l *mm.Layout, brk uint64) (*images.MmEntry, error) {
	return d.mm.MM(l, d.stat, brk)
}

// addMemfd records the memfd open at link (an fd or a map_files link)
// as a MEMFD file with flags and pos; its inode and contents go to the
// tree's memfd and shmem sets.
func (d *dumper) addMemfd(link, target string, flags uint32, pos int64) (*images.FileEntry, error) {
	ino, err := d.t.memfds.Add(link, target, &d.t.shmem)
	if err != nil {
		return nil, err
	}
	id := d.files.id()
	return &images.FileEntry{Type: images.FdTypes_MEMFD.Enum(), Id: proto.Uint32(id), Memfd: &images.MemfdFileEntry{
		Id: proto.Uint32(id), Flags: proto.Uint32(flags), Pos: proto.Uint64(uint64(pos)), Fown: image.ZeroFown(), InodeId: proto.Uint32(ino),
	}}, nil
}
