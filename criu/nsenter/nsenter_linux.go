package nsenter

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// Type is the kind of a namespace, as its CLONE_NEW* flag.
type Type int

const (
	IPC Type = unix.CLONE_NEWIPC
	UTS Type = unix.CLONE_NEWUTS
	Net Type = unix.CLONE_NEWNET
	// Cgroup: the thread sees cgroup paths from the namespace's root.
	Cgroup Type = unix.CLONE_NEWCGROUP
	// Mnt: the thread's root and cwd become the namespace's root (it
	// first stops sharing them with criu's other threads, CLONE_FS).
	Mnt Type = unix.CLONE_NEWNS
)

// String is the namespace's name under /proc/PID/ns.
func (t Type) String() string {
	switch t {
	case IPC:
		return "ipc"
	case UTS:
		return "uts"
	case Net:
		return "net"
	case Cgroup:
		return "cgroup"
	case Mnt:
		return "mnt"
	}
	return "ns(" + strconv.Itoa(int(t)) + ")"
}

// Do runs fn on an OS thread that has joined the namespace of type typ
// of task pid (a pid of the caller's pid namespace) and returns fn's
// error. The thread is discarded afterwards. fn must not start
// goroutines that expect to run in the namespace: they run on other
// threads.
func Do(pid int, typ Type, fn func() error) error {
	path := "/proc/" + strconv.Itoa(pid) + "/ns/" + typ.String()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("enter %s namespace of %d: %w", typ, pid, &os.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	return run(fd, typ, fn, func(err error) error {
		return fmt.Errorf("enter %s namespace of %d: %w", typ, pid, err)
	})
}

// DoFD is Do for the namespace that fd (an open nsfs file such as
// /proc/PID/ns/net) refers to. fd stays open.
func DoFD(fd int, typ Type, fn func() error) error {
	return run(fd, typ, fn, func(err error) error {
		return fmt.Errorf("enter %s namespace: %w", typ, err)
	})
}

// run runs fn on a new goroutine that joins namespace fd; wrap words a
// failure to join.
func run(fd int, typ Type, fn func() error, wrap func(error) error) error {
	done := make(chan error, 1)
	go func() { done <- enter(fd, typ, fn, wrap) }()
	return <-done
}

// enter locks the calling goroutine's thread, joins namespace fd and
// runs fn there. The goroutine must end right after: its thread stays
// locked, so the runtime ends the thread too.
func enter(fd int, typ Type, fn func() error, wrap func(error) error) error {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The main thread is never ended, only parked, and
		// /proc/self/ns/* shows its namespaces: it must not join one.
		// While it is locked here, the runtime runs the work on
		// another thread.
		inner := make(chan error, 1)
		go func() { inner <- enter(fd, typ, fn, wrap) }()
		err := <-inner
		runtime.UnlockOSThread()
		return err
	}
	if err := setns(fd, typ); err != nil {
		return wrap(err)
	}
	return fn()
}

// InDir runs fn on an OS thread whose working directory is dirfd (an
// open directory, O_PATH will do), its own (it unshares CLONE_FS), and
// returns fn's error: relative paths fn gives resolve from there,
// whatever mount namespace dirfd was opened in. The thread is discarded
// afterwards, as Do's.
func InDir(dirfd int, fn func() error) error {
	return run(dirfd, inDir, fn, func(err error) error { return fmt.Errorf("change to a directory: %w", err) })
}

// inDir is InDir's pseudo-type for run: fchdir instead of setns.
const inDir Type = -1

// DoAll is Do for several namespaces of task pid at once, joined in
// the order of types on one thread: fn runs in all of them.
func DoAll(pid int, types []Type, fn func() error) error {
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, typ := range types {
		path := "/proc/" + strconv.Itoa(pid) + "/ns/" + typ.String()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("enter %s namespace of %d: %w", typ, pid, &os.PathError{Op: "open", Path: path, Err: err})
		}
		fds = append(fds, fd)
	}
	if len(fds) == 0 {
		return fn()
	}
	joinRest := fn
	for i := len(fds) - 1; i >= 1; i-- {
		fd, typ, next := fds[i], types[i], joinRest
		joinRest = func() error {
			if err := setns(fd, typ); err != nil {
				return fmt.Errorf("enter %s namespace of %d: %w", typ, pid, err)
			}
			return next()
		}
	}
	return run(fds[0], types[0], joinRest, func(err error) error {
		return fmt.Errorf("enter %s namespace of %d: %w", types[0], pid, err)
	})
}

// ErrOwnNamespace is returned by NotOwn.
var ErrOwnNamespace = errors.New("is the caller's own namespace")

// NotOwn returns an error wrapping ErrOwnNamespace if task pid is in the
// caller's own namespace of type typ: restoring state into it would
// change the host's.
func NotOwn(pid int, typ Type) error {
	path := "/proc/" + strconv.Itoa(pid) + "/ns/" + typ.String()
	var their, own unix.Stat_t
	if err := unix.Stat(path, &their); err != nil {
		return fmt.Errorf("%s namespace of %d: %w", typ, pid, &os.PathError{Op: "stat", Path: path, Err: err})
	}
	self := "/proc/thread-self/ns/" + typ.String()
	if err := unix.Stat(self, &own); err != nil {
		return &os.PathError{Op: "stat", Path: self, Err: err}
	}
	if their.Dev == own.Dev && their.Ino == own.Ino {
		return fmt.Errorf("%s namespace of %d: %w", typ, pid, ErrOwnNamespace)
	}
	return nil
}

// setns moves the calling thread into namespace fd of type typ. A
// mount namespace is joined by a thread that shares no root and cwd.
// For inDir, the thread gets a cwd of its own, fd.
func setns(fd int, typ Type) error {
	if typ == inDir {
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return os.NewSyscallError("unshare(CLONE_FS)", err)
		}
		return os.NewSyscallError("fchdir", unix.Fchdir(fd))
	}
	if typ == Mnt {
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return os.NewSyscallError("unshare(CLONE_FS)", err)
		}
	}
	return linux.Setns(fd, int(typ))
}
