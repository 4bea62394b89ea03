package anonfd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
)

// self is the test process as the task OpenPidfd opens a pidfd in: the
// calls it is asked for run here, for real.
type self struct{}

func (self) Sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	switch nr {
	case unix.SYS_PIDFD_OPEN:
		fd, err := unix.PidfdOpen(int(args[0]), int(args[1]))
		return uint64(fd), err
	case unix.SYS_CLOSE:
		return 0, unix.Close(int(args[0]))
	}
	return 0, fmt.Errorf("%s: not expected", name)
}
func (self) WriteScratch(uint64, []byte) error { return errors.New("no scratch") }
func (self) Scratch() uint64                   { return 0 }

// fdinfo reads the fdinfo of fd of this process.
func fdinfo(t *testing.T, fd int) procfs.Fdinfo {
	fi, err := procfs.ReadFdinfo(os.Getpid(), fd)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestPidfdRoundTrip(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := cmd.Process.Pid
	pfd, err := unix.PidfdOpen(child, unix.PIDFD_NONBLOCK)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Skip("pidfd_open:", err)
	}
	defer unix.Close(pfd)
	fi := fdinfo(t, pfd)
	flags := fi.Flags &^ unix.O_CLOEXEC
	if _, err := DumpPidfd(false, 1, flags, fi, nil); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "not a live task of the tree") {
		t.Errorf("pidfd of a task outside the tree: %v", err)
	}
	if _, err := DumpPidfd(true, 1, flags, fi, []int{child}); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "in flight") {
		t.Errorf("pidfd in flight: %v", err)
	}
	fe, err := DumpPidfd(false, 1, flags, fi, []int{child})
	if err != nil {
		t.Fatal(err)
	}
	e := fe.GetPidfd()
	if e.GetNspid() != int32(child) || e.GetFlags()&unix.O_NONBLOCK == 0 || e.GetFlags()&unix.O_RDWR != 0 || uint64(e.GetIno()) != fi.Ino&0xffffffff {
		t.Errorf("entry %v for child %d (fdinfo %+v)", e, child, fi)
	}
	fd, err := OpenPidfd(self{}, os.Getpid(), e)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
		t.Errorf("restored pidfd flags %#o: no O_NONBLOCK", fl)
	}
	// It is the child's: a signal sent through it kills the child.
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != unix.SIGKILL {
		t.Errorf("child after SIGKILL through the restored pidfd: %v", err)
	}
	// Reaped: a pidfd of a task that has exited is refused.
	fi = fdinfo(t, pfd)
	if _, err := DumpPidfd(false, 1, flags, fi, []int{child}); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "exited") {
		t.Errorf("pidfd of a task that exited: %v", err)
	}
}

func TestPidfdThreadRefused(t *testing.T) {
	pfd, err := unix.PidfdOpen(os.Getpid(), unix.O_EXCL) // PIDFD_THREAD
	if err != nil {
		t.Skip("pidfd_open(PIDFD_THREAD):", err)
	}
	defer unix.Close(pfd)
	fi := fdinfo(t, pfd)
	if _, err := DumpPidfd(false, 1, fi.Flags&^unix.O_CLOEXEC, fi, []int{os.Getpid()}); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "PIDFD_THREAD") {
		t.Errorf("PIDFD_THREAD pidfd: %v", err)
	}
}
