package restore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// File lock kinds and types of file_lock_entry (CRIU's file-lock.h).
const (
	flPOSIX = 1
	flFlock = 2
	fRdlck  = 0
	fWrlck  = 1
)

// readLocks reads filelocks.img, which exists only when the tree held
// file locks.
func readLocks(ctx context.Context, s image.Store) ([]*images.FileLockEntry, error) {
	ms, err := image.ReadAll(ctx, s, "filelocks.img", func() proto.Message { return &images.FileLockEntry{} })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]*images.FileLockEntry, len(ms))
	for i, m := range ms {
		out[i] = m.(*images.FileLockEntry)
	}
	return out, nil
}

// checkLocks refuses images with locks unless Options.FileLocks, and
// locks restore cannot take back, before anything is created.
func (t *treeRestorer) checkLocks() error {
	for _, l := range t.ti.locks {
		if !t.opts.FileLocks {
			return fmt.Errorf("%w: the images hold file locks (pid %d fd %d): restore with --file-locks", ErrUnsupported, l.GetPid(), l.GetFd())
		}
		if f := l.GetFlag(); f != flPOSIX && f != flFlock {
			return fmt.Errorf("%w: file lock kind %d (pid %d fd %d)", ErrUnsupported, f, l.GetPid(), l.GetFd())
		}
		if ty := l.GetType(); ty != fRdlck && ty != fWrlck {
			return fmt.Errorf("%w: file lock type %d (pid %d fd %d)", ErrUnsupported, ty, l.GetPid(), l.GetFd())
		}
		n, ok := t.byPid[int(l.GetPid())]
		if !ok || n.sn.zombie() || n.helper {
			return fmt.Errorf("%w: file lock of pid %d, not a live task of the tree", ErrBadImage, l.GetPid())
		}
		found := false
		for _, fi := range n.sn.fdinfo {
			if int32(fi.GetFd()) == l.GetFd() {
				found = fi.GetType() == images.FdTypes_REG
				break
			}
		}
		if !found {
			return fmt.Errorf("%w: file lock on fd %d of pid %d, not a regular file it holds", ErrBadImage, l.GetFd(), l.GetPid())
		}
	}
	return nil
}

// restoreLocks takes every lock back from inside the task that held it
// (a POSIX lock belongs to the fd table that took it), without blocking:
// a lock somebody else took meanwhile fails the restore. Runs once every
// task's files are open, while the scratch pages are mapped.
func (t *treeRestorer) restoreLocks() error {
	for _, l := range t.ti.locks {
		r := t.byPid[int(l.GetPid())].r
		fd := uint64(l.GetFd())
		var err error
		switch l.GetFlag() {
		case flFlock:
			op := uint64(unix.LOCK_SH)
			if l.GetType() == fWrlck {
				op = unix.LOCK_EX
			}
			_, err = r.sys("flock", unix.SYS_FLOCK, fd, op|unix.LOCK_NB)
		case flPOSIX:
			// struct flock (x86_64): l_type, l_whence (shorts), then
			// l_start and l_len at 8 and 16, l_pid at 24.
			b := make([]byte, 32)
			le := binary.LittleEndian
			le.PutUint16(b[0:], uint16(l.GetType()))
			le.PutUint16(b[2:], 0) // SEEK_SET
			le.PutUint64(b[8:], uint64(l.GetStart()))
			le.PutUint64(b[16:], uint64(l.GetLen()))
			if err = r.writeScratch(0, b); err == nil {
				_, err = r.sys("fcntl(F_SETLK)", unix.SYS_FCNTL, fd, unix.F_SETLK, r.scr)
			}
		}
		if err != nil {
			return fmt.Errorf("task %d: restore file lock on fd %d: %w", l.GetPid(), fd, err)
		}
	}
	return nil
}
