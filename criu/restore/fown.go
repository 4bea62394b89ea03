package restore

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/proto/images"
)

// fownOf is the owner entry of a file's description (CRIU keeps one in
// each file type's entry), nil when it has none.
func fownOf(f *images.FileEntry) *images.FownEntry {
	switch {
	case f.Reg != nil:
		return f.Reg.GetFown()
	case f.Pipe != nil:
		return f.Pipe.GetFown()
	case f.Usk != nil:
		return f.Usk.GetFown()
	case f.Isk != nil:
		return f.Isk.GetFown()
	case f.Efd != nil:
		return f.Efd.GetFown()
	case f.Sgfd != nil:
		return f.Sgfd.GetFown()
	case f.Tfd != nil:
		return f.Tfd.GetFown()
	case f.Ify != nil:
		return f.Ify.GetFown()
	case f.Epfd != nil:
		return f.Epfd.GetFown()
	case f.Tty != nil:
		return f.Tty.GetFown()
	}
	return nil
}

// restoreFowns gives each file description of the task its signal
// (F_SETSIG) and owner (F_SETOWN_EX), from inside the task once every
// task and thread exists (an owner may be any of them), before its
// creds are set. The owner is set, as CRIU does, with the real and
// effective uid it was recorded with (the kernel checks them when it
// sends SIGIO), then the task's uids are put back; the saved uid stays
// criu's, so the task may switch back.
func (r *restorer) restoreFowns() error {
	if r.sn.sharedFds {
		return nil // the parent's table, done by the parent
	}
	done := map[uint32]bool{}
	for _, fi := range r.sn.fdinfo {
		f := r.sn.files[fi.GetId()]
		fo := fownOf(f)
		if fo == nil || done[fi.GetId()] || fo.GetSignum() == 0 && fo.GetPid() == 0 {
			continue
		}
		done[fi.GetId()] = true
		fd := uint64(fi.GetFd())
		if s := fo.GetSignum(); s != 0 {
			if _, err := r.sys("fcntl(F_SETSIG)", unix.SYS_FCNTL, fd, unix.F_SETSIG, uint64(s)); err != nil {
				return fmt.Errorf("fd %d: %w", fd, err)
			}
		}
		if fo.GetPid() == 0 {
			continue
		}
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b[0:], fo.GetPidType())
		binary.LittleEndian.PutUint32(b[4:], fo.GetPid())
		if err := r.writeScratch(0, b); err != nil {
			return err
		}
		keep := ^uint64(0) // -1: unchanged
		if _, err := r.sys("setresuid(owner)", unix.SYS_SETRESUID, uint64(fo.GetUid()), uint64(fo.GetEuid()), keep); err != nil {
			return fmt.Errorf("fd %d: set the owner's uids: %w", fd, err)
		}
		_, err := r.sys("fcntl(F_SETOWN_EX)", unix.SYS_FCNTL, fd, unix.F_SETOWN_EX, r.scr)
		if _, berr := r.sys("setresuid(back)", unix.SYS_SETRESUID, uint64(os.Getuid()), uint64(os.Geteuid()), keep); berr != nil && err == nil {
			err = berr
		}
		if err != nil {
			return fmt.Errorf("fd %d: owner %d (type %d): %w", fd, fo.GetPid(), fo.GetPidType(), err)
		}
	}
	return nil
}
