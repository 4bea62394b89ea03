package anonfd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
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
	if _, err := DumpPidfd(os.Getpid(), pfd, false, 1, flags, fi, nil); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "not a task of the tree") {
		t.Errorf("pidfd of a task outside the tree: %v", err)
	}
	if _, err := DumpPidfd(os.Getpid(), pfd, true, 1, flags, fi, []int{child}); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "in flight") {
		t.Errorf("pidfd in flight: %v", err)
	}
	fe, err := DumpPidfd(os.Getpid(), pfd, false, 1, flags, fi, []int{child})
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
	// Reaped: saved with nspid -1 and its wait status, where the kernel
	// tells it (PIDFD_GET_INFO, Linux 6.15), and opened again as a
	// pidfd of a stand-in that died the same way.
	fi = fdinfo(t, pfd)
	fe, err = DumpPidfd(os.Getpid(), pfd, false, 2, flags, fi, nil)
	if err != nil {
		t.Fatal(err)
	}
	e = fe.GetPidfd()
	if e.GetNspid() != -1 {
		t.Fatalf("pidfd of a reaped task: entry %v", e)
	}
	_, known, _ := linux.PidfdExitStatus(pfd)
	if known != (e.GetAttr() != nil) || known && e.GetAttr().GetExitCode() != int32(unix.SIGKILL) {
		t.Errorf("pidfd of a task killed by SIGKILL: attr %v (exit status known: %v)", e.GetAttr(), known)
	}
	// Two pidfds of it (one inode) and one of another dead task that
	// exited with 3.
	other := &images.PidfdEntry{Id: proto.Uint32(3), Ino: proto.Uint32(e.GetIno() + 1), Nspid: proto.Int32(-1),
		Attr: &images.PidfsAttrEntry{ExitCode: proto.Int32(3 << 8)}}
	twin := &images.PidfdEntry{Id: proto.Uint32(4), Ino: proto.Uint32(e.GetIno()), Nspid: proto.Int32(-1)}
	files, ids := map[uint32]*images.FileEntry{}, map[uint32]int{}
	for _, e := range []*images.PidfdEntry{e, other, twin} {
		files[e.GetId()], ids[e.GetId()] = &images.FileEntry{Type: images.FdTypes_PIDFD.Enum(), Id: e.Id, Pidfd: e}, 1
	}
	fds, err := OpenDeadPidfds(files, ids, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		defer unix.Close(fd)
	}
	if len(fds) != 3 {
		t.Fatalf("%d pidfds opened, want 3", len(fds))
	}
	var st [3]unix.Stat_t
	for i, id := range []uint32{2, 3, 4} {
		fd := fds[id]
		if err := unix.PidfdSendSignal(fd, 0, nil, 0); !errors.Is(err, unix.ESRCH) {
			t.Errorf("pidfd %d of a stand-in: pidfd_send_signal: %v, want ESRCH", id, err)
		}
		if n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0); n != 1 {
			t.Errorf("pidfd %d of a stand-in does not poll readable", id)
		}
		unix.Fstat(fd, &st[i])
	}
	if fl, _ := unix.FcntlInt(uintptr(fds[2]), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
		t.Errorf("pidfd 2 lost O_NONBLOCK (%#o)", fl)
	}
	if st[0].Ino != st[2].Ino || st[0].Ino == st[1].Ino {
		t.Errorf("inodes %d %d %d: want the first and the last alike, the middle other", st[0].Ino, st[1].Ino, st[2].Ino)
	}
	if status, ok, err := linux.PidfdExitStatus(fds[3]); err != nil || known && (!ok || status != 3<<8) {
		t.Errorf("stand-in that exited with 3: status %#x %v %v", status, ok, err)
	}
	if status, ok, err := linux.PidfdExitStatus(fds[2]); err != nil || known && (!ok || status != int(unix.SIGKILL)) {
		t.Errorf("stand-in killed by SIGKILL: status %#x %v %v", status, ok, err)
	}
}

// TestStandInStatus: a stand-in dies with the wait status it is given,
// an exit code or a signal whose action criu's runtime would catch.
func TestStandInStatus(t *testing.T) {
	for _, status := range []int{0, 42 << 8, int(unix.SIGUSR1), int(unix.SIGTERM), int(unix.SIGSEGV)} {
		_, die, err := standIn(status, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := die(); err != nil {
			t.Error(err)
		}
	}
	if _, _, err := standIn(int(unix.SIGSEGV)|0x80, ""); err == nil {
		t.Error("a stand-in that dumps core was started")
	}
}

// TestPidfdThread: a pidfd of a task's leader thread (PIDFD_THREAD) is
// opened again as one; of another thread it is refused by name.
func TestPidfdThread(t *testing.T) {
	pfd, err := unix.PidfdOpen(os.Getpid(), unix.O_EXCL) // PIDFD_THREAD
	if err != nil {
		t.Skip("pidfd_open(PIDFD_THREAD):", err)
	}
	defer unix.Close(pfd)
	fi := fdinfo(t, pfd)
	fe, err := DumpPidfd(os.Getpid(), pfd, false, 1, fi.Flags&^unix.O_CLOEXEC, fi, []int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := OpenPidfd(self{}, os.Getpid(), fe.GetPidfd())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_EXCL == 0 {
		t.Errorf("restored pidfd flags %#o: no PIDFD_THREAD", fl)
	}
	// Another thread of this process (the Go runtime has several).
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tasks {
		tid, _ := strconv.Atoi(e.Name())
		if tid == os.Getpid() {
			continue
		}
		tfd, err := unix.PidfdOpen(tid, unix.O_EXCL)
		if err != nil {
			continue // exited meanwhile
		}
		defer unix.Close(tfd)
		fi := fdinfo(t, tfd)
		if _, err := DumpPidfd(os.Getpid(), tfd, false, 2, fi.Flags&^unix.O_CLOEXEC, fi, []int{os.Getpid()}); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "PIDFD_THREAD") {
			t.Errorf("PIDFD_THREAD pidfd of thread %d: %v", tid, err)
		}
		return
	}
	t.Skip("no other thread")
}

// TestStandInPidns: a stand-in in another pid namespace (the tree's)
// dies as told there, and its pidfd signals ESRCH from a task of it.
func TestStandInPidns(t *testing.T) {
	init := exec.Command("sleep", "100")
	init.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := init.Start(); err != nil {
		t.Skip("a pid namespace:", err)
	}
	defer func() { init.Process.Kill(); init.Wait() }()
	pid, die, err := standIn(5<<8, procfs.Path(init.Process.Pid, "ns/pid"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := procfs.ReadStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	if ns, err := st.Ints("NSpid"); err != nil || len(ns) != 2 {
		t.Errorf("stand-in NSpid %v %v: not in the new pid namespace", ns, err)
	}
	if err := die(); err != nil {
		t.Fatal(err)
	}
}
