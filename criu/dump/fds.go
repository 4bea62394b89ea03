package dump

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/files"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsfile"
	"github.com/criugo/criu/criu/pipes"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/shmem"
	"github.com/criugo/criu/criu/tty"
	"github.com/criugo/criu/criu/tun"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// fileSet numbers the open file descriptions and mapped files.
type fileSet struct {
	next    uint32
	entries []*images.FileEntry
	// regs are the files opened by path, with the ghosts and their
	// remaps (package files).
	regs *files.Set
	// descs are the fds recorded so far by (dev, ino), to find an open
	// file description shared by several fds (dup, fork) with kcmp.
	descs map[[2]uint64][]fdRef
}

// fdRef is one recorded fd and the file entry it got.
type fdRef struct {
	pid, fd int
	id      uint32
	typ     images.FdTypes
}

func newFileSet(first uint32) *fileSet {
	return &fileSet{next: first, regs: files.NewSet(), descs: map[[2]uint64][]fdRef{}}
}

func (f *fileSet) id() uint32 {
	f.next++
	return f.next - 1
}

// addReg records a file opened by path (files.Set.AddReg) and appends
// its entry, when it gets one of its own, to files.img.
func (f *fileSet) addReg(path, link string, flags uint32, pos int64) (uint32, error) {
	id, e, err := f.regs.AddReg(f.id, path, link, flags, pos)
	if e != nil {
		f.entries = append(f.entries, e)
	}
	return id, err
}

// collectFds records every open fd of the task.
func (d *dumper) collectFds() ([]*images.FdinfoEntry, error) {
	fds, err := procfs.Fds(d.pid)
	if err != nil {
		return nil, fmt.Errorf("list fds of %d: %w", d.pid, err)
	}
	return d.recordFds(fds)
}

// recordFds records the open fds fds of the task: for each, its file
// (a new entry of files.img, or that of an fd recorded before with the
// same open file description) and its fdinfo entry.
func (d *dumper) recordFds(fds []int) ([]*images.FdinfoEntry, error) {
	var out []*images.FdinfoEntry
	locked := map[int]procfs.Fdinfo{} // fds whose fdinfo shows locks
	var ferr error                    // set by record
	for _, fd := range fds {
		if ferr != nil {
			return nil, ferr
		}
		if d.t.mm.SkipFd(d.pid, fd) {
			continue // a memory-tracking uffd of ours (package mm)
		}
		link := procfs.Path(d.pid, fmt.Sprintf("fd/%d", fd))
		target, err := os.Readlink(link)
		if err != nil {
			return nil, &FdError{Fd: fd, Type: "?", Err: err}
		}
		fi, err := procfs.ReadFdinfo(d.pid, fd)
		if err != nil {
			return nil, &FdError{Fd: fd, Type: target, Err: err}
		}
		if len(fi.LockLines) > 0 {
			if d.inFlight {
				return nil, &FdError{Fd: fd, Type: target, Err: fmt.Errorf("%w: a file passed in flight (SCM_RIGHTS) with a lock on it", ErrUnsupported)}
			}
			locked[fd] = fi
		}
		var st unix.Stat_t
		if err := unix.Stat(link, &st); err != nil {
			return nil, &FdError{Fd: fd, Type: target, Err: os.NewSyscallError("stat", err)}
		}
		cloexec := uint32(0)
		if fi.Flags&unix.O_CLOEXEC != 0 {
			cloexec = unix.FD_CLOEXEC
		}
		flags := fi.Flags &^ unix.O_CLOEXEC
		mode := st.Mode & unix.S_IFMT
		// The same open file description as an fd already recorded?
		dk := [2]uint64{st.Dev, st.Ino}
		if ref, ok, err := d.files.sameDesc(dk, d.pid, fd); err != nil {
			return nil, &FdError{Fd: fd, Type: target, Err: err}
		} else if ok {
			out = append(out, &images.FdinfoEntry{Id: proto.Uint32(ref.id), Flags: proto.Uint32(cloexec), Type: ref.typ.Enum(), Fd: proto.Uint32(uint32(fd))})
			continue
		}
		record := func(e *images.FileEntry) {
			if e.GetType() != images.FdTypes_EXT {
				if err := files.SetFown(d.t, d.pid, fd, flags, e); err != nil {
					ferr = &FdError{Fd: fd, Type: target, Err: err}
				}
			}
			d.files.entries = append(d.files.entries, e)
			d.files.descs[dk] = append(d.files.descs[dk], fdRef{pid: d.pid, fd: fd, id: e.GetId(), typ: e.GetType()})
			out = append(out, &images.FdinfoEntry{Id: proto.Uint32(e.GetId()), Flags: proto.Uint32(cloexec), Type: e.GetType().Enum(), Fd: proto.Uint32(uint32(fd))})
		}
		kind := ""
		switch {
		case !strings.HasPrefix(target, "/"):
			kind = target // pipe:[..], socket:[..], anon_inode:...
			if i := strings.IndexByte(kind, ':'); i > 0 && !strings.HasPrefix(kind, "anon_inode") {
				kind = kind[:i]
			}
		case mode == unix.S_IFCHR && tty.IsTTY(st.Rdev):
			kind = "tty " + target
		case mode == unix.S_IFIFO:
			kind = "fifo " + target
		case mode == unix.S_IFSOCK:
			kind = "socket " + target
		}
		if d.inFlight {
			if err := refuseInFlight(kind); err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
		}
		if strings.HasPrefix(kind, "tty ") && len(d.opts.ExternalTTY) > 0 {
			// A terminal named with --external: restore is given
			// the one that takes its place (package tty).
			if err := d.t.ttys.Scan(); err != nil {
				return nil, err
			}
			if d.t.ttys.External(st.Rdev, st.Dev) {
				fe, err := d.t.ttys.AddExternal(d.ttyFd(fd, &st, flags, fi, target), ttyFiles{d.files})
				if err != nil {
					return nil, &FdError{Fd: fd, Type: kind, Err: err}
				}
				record(fe)
				continue
			}
		}
		if kind == "pipe" && d.opts.ShellJob && fd <= 2 {
			// A stdio pipe whose other end no task of the tree holds
			// comes from the shell's pipeline: it is external.
			other, err := pipes.EndInTree(d.t.livePids(), st.Ino, flags&unix.O_ACCMODE == unix.O_WRONLY)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			if !other {
				kind = "shell pipe"
			}
		}
		if strings.HasPrefix(kind, "fifo ") {
			e, err := d.t.pipes.AddFifo(d.t, d.pid, fd, &st, flags, strings.TrimSuffix(target, " (deleted)"), link)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: kind, Err: err}
			}
			record(e)
			continue
		}
		if kind == "pipe" {
			e, err := d.t.pipes.AddPipe(d.t, d.pid, fd, &st, flags)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			record(e)
			continue
		}
		// A pty whose master the tree holds is its own (package tty), not the shell's.
		ownPty := strings.HasPrefix(kind, "tty") && d.t.ttys.OwnPty(st.Rdev)
		shellStdio := d.opts.ShellJob && fd <= 2 && (strings.HasPrefix(kind, "tty") && !ownPty || kind == "shell pipe" || kind == "socket")
		if !shellStdio && (kind == "socket" || strings.HasPrefix(kind, "anon_inode:[") || kind == "anon_inode:inotify") {
			var e *images.FileEntry
			var err error
			if kind == "socket" {
				e, err = d.addSocket(fd, &st, flags)
			} else {
				e, err = d.addAnon(kind, fd, flags, fi)
			}
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			record(e)
			continue
		}
		if strings.HasPrefix(kind, "tty") && !shellStdio && tty.Kept(st.Rdev) {
			e, err := d.t.ttys.AddTerminal(d.ttyFd(fd, &st, flags, fi, target), ttyFiles{d.files})
			if err != nil {
				return nil, &FdError{Fd: fd, Type: kind, Err: err}
			}
			record(e)
			continue
		}
		if nk, ino, ok := nsfile.Parse(target); ok && !shellStdio {
			e, err := nsfile.Entry(d.files.id(), nk, ino, flags, d.t.ns.IDOf)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			record(e)
			continue
		}
		if kind != "" {
			if shellStdio {
				// Inherited from the shell: the restorer's own fd takes
				// its place. Recorded as a description, so that a dup of
				// it at a higher fd is restored as a dup of this one.
				id := d.files.id()
				record(&images.FileEntry{
					Type: images.FdTypes_EXT.Enum(), Id: proto.Uint32(id),
					Ext: &images.ExtFileEntry{Id: proto.Uint32(id), Fown: image.ZeroFown()},
				})
				continue
			}
			if strings.HasPrefix(kind, "tty") && d.opts.ShellJob {
				return nil, &FdError{Fd: fd, Type: kind, Err: fmt.Errorf("%w: only fds 0-2 on a terminal are taken from the restorer with --shell-job", ErrUnsupported)}
			}
			return nil, &FdError{Fd: fd, Type: kind, Err: ErrUnsupported}
		}
		if mode == unix.S_IFCHR && tun.IsTun(st.Rdev) {
			es, dev, err := tun.DumpFD(d.pid, fd, d.files.id(), d.t.ns.ID["net"], flags, uint64(fi.Pos), "/proc/self/ns/net")
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			if dev != nil && (d.t.tuns[dev.Name] == nil || !es[1].GetTunf().GetDetached()) {
				// The device's send buffer is its attached queues'.
				if d.t.tuns == nil {
					d.t.tuns = map[string]*tun.Device{}
				}
				d.t.tuns[dev.Name] = dev
			}
			d.files.entries = append(d.files.entries, es[0]) // CRIU's reg_file_entry of it
			record(es[1])
			continue
		}
		if shmem.IsMemfd(target) || shmem.IsAnon(target, st.Dev) {
			e, err := d.addMemfd(link, target, flags, fi.Pos)
			if err != nil {
				return nil, &FdError{Fd: fd, Type: target, Err: err}
			}
			record(e)
			continue
		}
		path := strings.TrimSuffix(target, " (deleted)")
		id, err := d.files.addReg(path, link, flags, fi.Pos)
		if err != nil {
			return nil, &FdError{Fd: fd, Type: target, Err: err}
		}
		for i := len(d.files.entries) - 1; i >= 0; i-- {
			if e := d.files.entries[i]; e.GetId() == id {
				if err := files.SetFown(d.t, d.pid, fd, flags, e); err != nil {
					return nil, &FdError{Fd: fd, Type: target, Err: err}
				}
				break
			}
		}
		// A regular-file fd gets its own description even at pos 0.
		d.files.regs.Unshare(path, flags)
		d.files.descs[dk] = append(d.files.descs[dk], fdRef{pid: d.pid, fd: fd, id: id, typ: images.FdTypes_REG})
		out = append(out, &images.FdinfoEntry{Id: proto.Uint32(id), Flags: proto.Uint32(cloexec), Type: images.FdTypes_REG.Enum(), Fd: proto.Uint32(uint32(fd))})
	}
	if ferr != nil {
		return nil, ferr
	}
	for _, e := range out {
		fd := int(e.GetFd())
		if fi, ok := locked[fd]; ok {
			if err := d.t.locks.Add(d.pid, d.vpid, fd, fi, e.GetId(), e.GetType(), d.opts.FileLocks); err != nil {
				return nil, &FdError{Fd: fd, Type: "locked file", Err: err}
			}
		}
	}
	return out, nil
}

// dumpInFlight records the files passed in messages queued on the
// tree's UNIX sockets (SCM_RIGHTS, sockets.Set.InFlight) once every
// task's fds are: each comes as criu's own copy from the peek and is
// recorded as an fd of criu's (as CRIU's dump_my_file), so that the same
// open file as a task's fd gets that fd's file id, and one that no task
// holds any more an entry of its own.
func (t *tree) dumpInFlight() error {
	self := &dumper{opts: t.opts, t: t, pid: os.Getpid(), store: t.store, tr: t.tr, files: t.files, inFlight: true}
	return t.sockets.InFlight(func(fd int, via uint32) (uint32, error) {
		fis, err := self.recordFds([]int{fd})
		if err != nil {
			// Named by the file, not by criu's fd number.
			var fe *FdError
			if errors.As(err, &fe) {
				return 0, fmt.Errorf("%s: %w", fe.Type, fe.Err)
			}
			return 0, err
		}
		return fis[0].GetId(), nil
	})
}

// refuseInFlight refuses the kinds of file (as recordFds names them)
// that are not saved when passed in flight: a terminal, whose session
// and foreground are a task's. (An epoll's targets are found in a task's
// fds: package anonfd.)
func refuseInFlight(kind string) error {
	switch {
	case strings.HasPrefix(kind, "tty"):
		return fmt.Errorf("%w: a terminal passed in flight (SCM_RIGHTS)", ErrUnsupported)
	}
	return nil
}

// sameDesc finds a recorded fd with the same open file description as fd
// of pid.
func (f *fileSet) sameDesc(k [2]uint64, pid, fd int) (fdRef, bool, error) {
	for _, r := range f.descs[k] {
		same, err := linux.Kcmp(pid, r.pid, linux.KCMP_FILE, fd, r.fd)
		if err != nil {
			return fdRef{}, false, err
		}
		if same {
			return r, true, nil
		}
	}
	return fdRef{}, false, nil
}

// GetFd copies fd of task pid into criu (files.Tree, pipes.Tree).
func (t *tree) GetFd(pid, fd int) (int, error) { return linux.CopyFd(pid, fd) }

// ID hands out the next file id (pipes.Tree).
func (t *tree) ID() uint32 { return t.files.id() }

// AddReg records a file opened by path (pipes.Tree: the reg entry of a
// fifo).
func (t *tree) AddReg(path, link string, flags uint32, pos int64) (uint32, error) {
	return t.files.addReg(path, link, flags, pos)
}

// InnerOwner translates an owner of a file (a thread, process or process
// group, by its id in criu's pid namespace) to its id as the tree sees
// it; false if it is not in the tree (files.Tree).
func (t *tree) InnerOwner(typ, pid int) (int, bool) {
	for _, d := range t.tasks {
		switch typ {
		case files.OwnerTid:
			for _, th := range d.threads {
				if th.Tid == pid {
					return th.Vtid, true
				}
			}
		case files.OwnerPid:
			if d.pid == pid {
				return d.vpid, true
			}
		case files.OwnerPgrp:
			if d.stat.Pgrp == pid {
				return d.vpgid, true
			}
		}
	}
	return 0, false
}

// livePids are the pids of the tree's tasks that are not zombies.
// pids are the host pids of the tree's tasks, zombies too.
func (t *tree) pids() []int {
	var pids []int
	for _, d := range t.tasks {
		pids = append(pids, d.pid)
	}
	return pids
}

func (t *tree) livePids() []int {
	var pids []int
	for _, d := range t.tasks {
		if !d.zombie {
			pids = append(pids, d.pid)
		}
	}
	return pids
}

// writeGhosts checks the inotify watches known by handle only, which
// may need a ghost, and writes the ghosts (package files).
func (d *dumper) writeGhosts(ctx context.Context) error {
	if err := d.t.inotify.Check(d.files.regs.Ghost); err != nil {
		return err
	}
	return d.files.regs.WriteGhosts(ctx, d.store)
}
