package files

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// Tree is what recording the owner of a file needs of the tree being
// dumped (implemented by criu/dump's tree).
type Tree interface {
	// GetFd copies fd of task pid into criu (pidfd_getfd): the same
	// open file description.
	GetFd(pid, fd int) (int, error)
	// InnerOwner translates an owner of a file (of type OwnerTid,
	// OwnerPid or OwnerPgrp, by its id in criu's pid namespace) to its
	// id as the tree sees it; false if it is not in the tree.
	InnerOwner(typ, pid int) (int, bool)
}

// SetFown records the owner of the open file at fd of task pid (F_SETOWN,
// F_SETOWN_EX: who gets its SIGIO) and its signal (F_SETSIG) in the
// fown of its file entry e, as CRIU: the owner's pid as the tree sees it,
// and the uids F_SETOWN recorded with it. An owner outside the tree
// cannot be restored and is refused by name. flags are the fd's open
// flags.
func SetFown(t Tree, pid, fd int, flags uint32, e *images.FileEntry) error {
	if flags&unix.O_PATH != 0 {
		return nil // no owner
	}
	cp, err := t.GetFd(pid, fd)
	if err != nil {
		return err
	}
	defer unix.Close(cp)
	sig, err := unix.FcntlInt(uintptr(cp), unix.F_GETSIG, 0)
	if err != nil {
		return os.NewSyscallError("fcntl(F_GETSIG)", err)
	}
	own, uid, euid, err := fileOwner(cp)
	if err != nil {
		return err
	}
	if sig == 0 && own.Pid == 0 {
		return nil
	}
	fo := image.ZeroFown()
	fo.Signum = proto.Uint32(uint32(sig))
	if own.Pid != 0 {
		vpid, ok := t.InnerOwner(int(own.Type), int(own.Pid))
		if !ok {
			return fmt.Errorf("%w: its owner (F_SETOWN, type %d) %d is outside the dumped tree", errdefs.ErrUnsupported, own.Type, own.Pid)
		}
		fo.Uid, fo.Euid = proto.Uint32(uid), proto.Uint32(euid)
		fo.PidType, fo.Pid = proto.Uint32(uint32(own.Type)), proto.Uint32(uint32(vpid))
	}
	if !setFownOf(e, fo) {
		return fmt.Errorf("%w: an owner or signal (F_SETOWN, F_SETSIG) on a %v file", errdefs.ErrUnsupported, e.GetType())
	}
	return nil
}

// fownField is the fown field of the entry of f's type (CRIU keeps one
// in each file type's entry), nil for a type without one.
func fownField(f *images.FileEntry) **images.FownEntry {
	switch {
	case f.Reg != nil:
		return &f.Reg.Fown
	case f.Pipe != nil:
		return &f.Pipe.Fown
	case f.Usk != nil:
		return &f.Usk.Fown
	case f.Isk != nil:
		return &f.Isk.Fown
	case f.Efd != nil:
		return &f.Efd.Fown
	case f.Sgfd != nil:
		return &f.Sgfd.Fown
	case f.Tfd != nil:
		return &f.Tfd.Fown
	case f.Ify != nil:
		return &f.Ify.Fown
	case f.Ffy != nil:
		return &f.Ffy.Fown
	case f.Epfd != nil:
		return &f.Epfd.Fown
	case f.Tty != nil:
		return &f.Tty.Fown
	}
	return nil
}

// setFownOf sets the fown of the entry of e's type; false for a type
// without one.
func setFownOf(e *images.FileEntry, fo *images.FownEntry) bool {
	p := fownField(e)
	if p == nil {
		return false
	}
	*p = fo
	return true
}

// fownOf is the owner entry of a file's description, nil when it has
// none.
func fownOf(f *images.FileEntry) *images.FownEntry {
	if p := fownField(f); p != nil {
		return *p
	}
	return nil
}

// Task is what setting owners needs of a restored task (implemented by
// criu/restore for each task it restores).
type Task interface {
	// Syscall runs syscall nr inside the task; name names it in errors.
	Syscall(name string, nr uintptr, args ...uint64) (uint64, error)
	// WriteScratch writes b at offset off of the task's scratch area
	// and returns its address in the task.
	WriteScratch(off uint64, b []byte) (uint64, error)
}

// RestoreFowns gives each file description of a task its signal
// (F_SETSIG) and owner (F_SETOWN_EX), from inside the task once every
// task and thread exists (an owner may be any of them), before its
// creds are set. fdinfo are the task's fds, files the tree's file
// entries by id. The owner is set, as CRIU does, with the real and
// effective uid it was recorded with (the kernel checks them when it
// sends SIGIO), then the task's uids are put back; the saved uid stays
// criu's, so the task may switch back.
func RestoreFowns(t Task, fdinfo []*images.FdinfoEntry, files map[uint32]*images.FileEntry) error {
	done := map[uint32]bool{}
	for _, fi := range fdinfo {
		f := files[fi.GetId()]
		fo := fownOf(f)
		if fo == nil || done[fi.GetId()] || fo.GetSignum() == 0 && fo.GetPid() == 0 {
			continue
		}
		done[fi.GetId()] = true
		fd := uint64(fi.GetFd())
		if s := fo.GetSignum(); s != 0 {
			if _, err := t.Syscall("fcntl(F_SETSIG)", unix.SYS_FCNTL, fd, unix.F_SETSIG, uint64(s)); err != nil {
				return fmt.Errorf("fd %d: %w", fd, err)
			}
		}
		if fo.GetPid() == 0 {
			continue
		}
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b[0:], fo.GetPidType())
		binary.LittleEndian.PutUint32(b[4:], fo.GetPid())
		addr, err := t.WriteScratch(0, b)
		if err != nil {
			return err
		}
		keep := ^uint64(0) // -1: unchanged
		if _, err := t.Syscall("setresuid(owner)", unix.SYS_SETRESUID, uint64(fo.GetUid()), uint64(fo.GetEuid()), keep); err != nil {
			return fmt.Errorf("fd %d: set the owner's uids: %w", fd, err)
		}
		_, err = t.Syscall("fcntl(F_SETOWN_EX)", unix.SYS_FCNTL, fd, unix.F_SETOWN_EX, addr)
		if _, berr := t.Syscall("setresuid(back)", unix.SYS_SETRESUID, uint64(os.Getuid()), uint64(os.Geteuid()), keep); berr != nil && err == nil {
			err = berr
		}
		if err != nil {
			return fmt.Errorf("fd %d: owner %d (type %d): %w", fd, fo.GetPid(), fo.GetPidType(), err)
		}
	}
	return nil
}
