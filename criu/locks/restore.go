package locks

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// Task is a task being restored, seen by the locks it takes back.
type Task interface {
	// Sys runs system call nr inside the task.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	// WriteScratch writes b at offset off of the task's scratch area,
	// whose address is Scratch.
	WriteScratch(off uint64, b []byte) error
	Scratch() uint64
}

// Check refuses locks unless allowed (criu restore --file-locks), and
// locks restore cannot take back, before anything is created. fdType
// gives the type of fd of the live task pid of the tree, ok false when
// the tree has no such live task or fd.
func Check(locks []*images.FileLockEntry, allowed bool, fdType func(pid, fd int32) (typ images.FdTypes, task, ok bool)) error {
	for _, l := range locks {
		if !allowed {
			return fmt.Errorf("%w: the images hold file locks (pid %d fd %d): restore with --file-locks", errdefs.ErrUnsupported, l.GetPid(), l.GetFd())
		}
		if f := l.GetFlag(); f != flPOSIX && f != flFlock && f != flOFD && f != flLease {
			return fmt.Errorf("%w: file lock kind %d (pid %d fd %d)", errdefs.ErrUnsupported, f, l.GetPid(), l.GetFd())
		}
		if ty := l.GetType(); ty != fRdlck && ty != fWrlck {
			if l.GetFlag() == flLease && ty&leaseBreaking != 0 {
				return fmt.Errorf("%w: a lease being broken (pid %d fd %d)", errdefs.ErrUnsupported, l.GetPid(), l.GetFd())
			}
			return fmt.Errorf("%w: file lock type %d (pid %d fd %d)", errdefs.ErrUnsupported, ty, l.GetPid(), l.GetFd())
		}
		typ, task, ok := fdType(l.GetPid(), l.GetFd())
		if !task {
			return fmt.Errorf("%w: file lock of pid %d, not a live task of the tree", errdefs.ErrBadImage, l.GetPid())
		}
		if !ok || typ != images.FdTypes_REG {
			return fmt.Errorf("%w: file lock on fd %d of pid %d, not a regular file it holds", errdefs.ErrBadImage, l.GetFd(), l.GetPid())
		}
	}
	return nil
}

// Take takes lock l back from inside the task t that held it, without
// blocking. Runs once the task's files are open, while its scratch pages
// are mapped.
func Take(t Task, l *images.FileLockEntry) error {
	fd := uint64(l.GetFd())
	var err error
	switch l.GetFlag() {
	case flFlock:
		op := uint64(unix.LOCK_SH)
		if l.GetType() == fWrlck {
			op = unix.LOCK_EX
		}
		_, err = t.Sys("flock", unix.SYS_FLOCK, fd, op|unix.LOCK_NB)
	case flPOSIX, flOFD:
		// struct flock (x86_64): l_type, l_whence (shorts), then
		// l_start and l_len at 8 and 16, l_pid at 24 (0, as OFD
		// locks want it).
		b := make([]byte, 32)
		le := binary.LittleEndian
		le.PutUint16(b[0:], uint16(l.GetType()))
		le.PutUint16(b[2:], 0) // SEEK_SET
		le.PutUint64(b[8:], uint64(l.GetStart()))
		le.PutUint64(b[16:], uint64(l.GetLen()))
		cmd, name := uint64(unix.F_SETLK), "fcntl(F_SETLK)"
		if l.GetFlag() == flOFD {
			cmd, name = unix.F_OFD_SETLK, "fcntl(F_OFD_SETLK)"
		}
		if err = t.WriteScratch(0, b); err == nil {
			_, err = t.Sys(name, unix.SYS_FCNTL, fd, cmd, t.Scratch())
		}
	case flLease:
		// Taken by the task itself: it becomes the file's owner, to
		// which the kernel signals a break.
		_, err = t.Sys("fcntl(F_SETLEASE)", unix.SYS_FCNTL, fd, unix.F_SETLEASE, uint64(l.GetType()))
	}
	if err != nil {
		return fmt.Errorf("task %d: restore file lock on fd %d: %w", l.GetPid(), fd, err)
	}
	return nil
}
