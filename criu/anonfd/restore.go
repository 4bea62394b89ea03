package anonfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/fsnotify"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Task is a task being restored, seen by the epoll files it fills.
type Task interface {
	// Sys runs system call nr inside the task.
	Sys(name string, nr uintptr, args ...uint64) (uint64, error)
	// WriteScratch writes b at offset off of the task's scratch area,
	// whose address is Scratch.
	WriteScratch(off uint64, b []byte) error
	Scratch() uint64
}

// OpenFile opens, in the restorer, any anon-inode file of the images:
// an eventfd, signalfd, timerfd or epoll (Open), or an inotify or
// fanotify file (package fsnotify: ghosts are the restore's ghost files
// by device and inode, root the root task's /proc/PID/root).
func OpenFile(f *images.FileEntry, ghosts map[[2]uint64]string, root string) (fd int, err error) {
	if t := f.GetType(); t == images.FdTypes_INOTIFY || t == images.FdTypes_FANOTIFY {
		return fsnotify.OpenFile(f, ghosts, root)
	}
	return Open(f)
}

// Open creates, in the restorer, the eventfd, signalfd, timerfd or epoll
// file f describes, with its file status flags. An epoll file is created
// empty: its targets are added from inside the first task holding it
// (AddTargets).
func Open(f *images.FileEntry) (fd int, err error) {
	var flags uint32
	defer func() {
		if err != nil && fd >= 0 {
			unix.Close(fd)
			fd = -1
		}
	}()
	switch f.GetType() {
	case images.FdTypes_EVENTFD:
		e := f.GetEfd()
		flags = e.GetFlags()
		ef := unix.EFD_CLOEXEC
		// eventfd2 takes a 32-bit initial value: write the counter.
		if fd, err = unix.Eventfd(0, ef); err != nil {
			return -1, os.NewSyscallError("eventfd2", err)
		}
		if c := e.GetCounter(); c != 0 {
			b := binary.LittleEndian.AppendUint64(nil, c)
			if _, err := unix.Write(fd, b); err != nil {
				return fd, fmt.Errorf("set eventfd counter: %w", os.NewSyscallError("write", err))
			}
		}
	case images.FdTypes_SIGNALFD:
		e := f.GetSgfd()
		flags = e.GetFlags()
		set := unix.Sigset_t{}
		set.Val[0] = e.GetSigmask()
		if fd, err = unix.Signalfd(-1, &set, unix.SFD_CLOEXEC); err != nil {
			return -1, os.NewSyscallError("signalfd4", err)
		}
	case images.FdTypes_TIMERFD:
		e := f.GetTfd()
		flags = e.GetFlags()
		if fd, err = unix.TimerfdCreate(int(e.GetClockid()), unix.TFD_CLOEXEC); err != nil {
			return -1, os.NewSyscallError("timerfd_create", err)
		}
		its := unix.ItimerSpec{
			Value:    unix.Timespec{Sec: int64(e.GetVsec()), Nsec: int64(e.GetVnsec())},
			Interval: unix.Timespec{Sec: int64(e.GetIsec()), Nsec: int64(e.GetInsec())},
		}
		// A periodic timer that expired and was not read yet is not
		// re-armed until read (its time left shows as 0): let it expire
		// again at once, then set the ticks it had.
		expired := its.Value == (unix.Timespec{}) && its.Interval != (unix.Timespec{}) && e.GetTicks() != 0
		if expired {
			its.Value.Nsec = 1
		}
		if err := settime(fd, int(e.GetClockid()), int(e.GetSettimeFlags()), its); err != nil {
			return fd, err
		}
		if expired {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, err := unix.Poll(pfd, 1000); err != nil || n != 1 {
				return fd, fmt.Errorf("timerfd did not expire: %w", os.NewSyscallError("poll", err))
			}
		}
		if t := e.GetTicks(); t != 0 {
			if err := linux.TimerfdSetTicks(fd, t); err != nil {
				return fd, err
			}
		}
	case images.FdTypes_EVENTPOLL:
		flags = f.GetEpfd().GetFlags()
		if fd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
			return -1, os.NewSyscallError("epoll_create1", err)
		}
	default:
		return -1, fmt.Errorf("%w: file type %v", errdefs.ErrUnsupported, f.GetType())
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, int(flags&^unix.O_ACCMODE)); err != nil {
		return fd, os.NewSyscallError("fcntl(F_SETFL)", err)
	}
	return fd, nil
}

// timerSetFlags are the settime flags a timerfd keeps (TFD_SETTIME_FLAGS).
const timerSetFlags = unix.TFD_TIMER_ABSTIME | unix.TFD_TIMER_CANCEL_ON_SET

// settime arms timerfd fd of clock clockid with its, whose value is the
// time left as the image holds it, and with the settime flags it was set
// with: a timer set to an absolute time (TFD_TIMER_ABSTIME, also with
// TFD_TIMER_CANCEL_ON_SET) is set to the clock's time now plus the time
// left, as CRIU does, so it keeps both flags (fdinfo's settime flags, a
// clock change cancelling it).
func settime(fd, clockid, flags int, its unix.ItimerSpec) error {
	flags &= timerSetFlags
	if flags&unix.TFD_TIMER_ABSTIME != 0 && its.Value != (unix.Timespec{}) {
		var now unix.Timespec
		if err := unix.ClockGettime(int32(clockid), &now); err != nil {
			return os.NewSyscallError("clock_gettime", err)
		}
		its.Value = unix.NsecToTimespec(now.Nano() + its.Value.Nano())
	}
	if err := unix.TimerfdSettime(fd, flags, &its, nil); err != nil {
		return os.NewSyscallError("timerfd_settime", err)
	}
	return nil
}

// AddTargets adds the targets of epoll file ep, open at fd in task t, with
// epoll_ctl run inside the task: the targets are its fds of the same
// numbers (dump checked that). A target added with a number the task no
// longer holds it at (added_fd) is added by that number, as it was: its
// file is dup'ed there from where the task holds it (tfd) for the
// epoll_ctl, and what held that number, if anything, is put back after.
func AddTargets(t Task, fd uint32, ep *images.EventpollFileEntry) error {
	for _, tfd := range ep.GetTfd() {
		// struct epoll_event is packed on x86_64: u32 events, u64 data.
		b := make([]byte, 12)
		binary.LittleEndian.PutUint32(b, tfd.GetEvents())
		binary.LittleEndian.PutUint64(b[4:], tfd.GetData())
		if err := t.WriteScratch(0, b); err != nil {
			return err
		}
		add := func(n uint64) error {
			_, err := t.Sys("epoll_ctl", unix.SYS_EPOLL_CTL, uint64(fd), unix.EPOLL_CTL_ADD, n, t.Scratch())
			return err
		}
		var err error
		if tfd.AddedFd == nil || tfd.GetAddedFd() == tfd.GetTfd() {
			err = add(uint64(tfd.GetTfd()))
		} else {
			err = addAs(t, uint64(tfd.GetTfd()), uint64(tfd.GetAddedFd()), add)
		}
		if err != nil {
			return fmt.Errorf("epoll fd %d: add target fd %d: %w", fd, tfd.GetTfd(), err)
		}
	}
	return nil
}

// addAs runs add(n) in task t with the file of its fd at dup'ed to fd n,
// then gives n back what it held (with its close-on-exec flag), or
// closes it.
func addAs(t Task, at, n uint64, add func(uint64) error) error {
	fdFlags, err := t.Sys("fcntl", unix.SYS_FCNTL, n, unix.F_GETFD)
	held := err == nil
	if err != nil && !errors.Is(err, unix.EBADF) {
		return err
	}
	var saved uint64
	if held {
		if saved, err = t.Sys("fcntl", unix.SYS_FCNTL, n, unix.F_DUPFD_CLOEXEC, 0); err != nil {
			return err
		}
		defer t.Sys("close", unix.SYS_CLOSE, saved)
	}
	if _, err := t.Sys("dup2", unix.SYS_DUP2, at, n); err != nil {
		return err
	}
	err = add(n)
	if !held {
		if _, cerr := t.Sys("close", unix.SYS_CLOSE, n); err == nil {
			err = cerr
		}
		return err
	}
	cloexec := uint64(0)
	if fdFlags&unix.FD_CLOEXEC != 0 {
		cloexec = unix.O_CLOEXEC
	}
	if _, derr := t.Sys("dup3", unix.SYS_DUP3, saved, n, cloexec); err == nil {
		err = derr
	}
	return err
}
