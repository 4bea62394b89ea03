package anonfd

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// standInEnv marks a stand-in for a task that had exited: criu itself,
// started again by standIn, with the wait status it is to die with.
const standInEnv = "CRIU_GO_STANDIN"

// A stand-in is any binary that links this package (criu, or a test
// binary restoring in process) started by standIn: it becomes the
// stand-in here, before main or TestMain run.
func init() { runStandIn() }

// runStandIn returns at once, except in a stand-in (standIn), where it
// waits until its stdin reaches end of file and then dies with the wait
// status it was given: exits with the code, or is killed by the signal
// (no core).
func runStandIn() {
	v, ok := os.LookupEnv(standInEnv)
	if !ok {
		return
	}
	st, err := strconv.Atoi(v)
	if err != nil {
		os.Exit(127)
	}
	var b [1]byte
	for {
		if n, err := os.Stdin.Read(b[:]); n == 0 || err != nil {
			break
		}
	}
	ws := syscall.WaitStatus(st)
	if ws.Signaled() {
		// The default action, not the Go runtime's handler, on this
		// thread, with the signal unblocked: the process dies of it.
		runtime.LockOSThread()
		unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
		unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
		sig := int(ws.Signal())
		linux.RtSigaction(sig, &linux.KSigaction{}, nil) // EINVAL for SIGKILL, whose action is that
		var set unix.Sigset_t
		set.Val[0] = 1 << (sig - 1)
		unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
		unix.Tgkill(os.Getpid(), unix.Gettid(), syscall.Signal(sig))
		os.Exit(126)
	}
	os.Exit(ws.ExitStatus())
}

// standInExe is the executable standIn starts: this one.
var standInExe = "/proc/self/exe"

// standIn starts a stand-in for a task that had exited with wait status
// status (an exit or a signal without core), in pid namespace pidns (a
// /proc/PID/ns/pid path; "" for criu's own): a pidfd of a task of
// another pid namespace than its holder's, or of an ancestor of it,
// cannot send signals (EINVAL, not ESRCH). It lives until die is called,
// which makes it die with that status, reaps it and checks the status it
// died with; pidfds opened of pid meanwhile are pidfds of the task that
// had exited once die returns.
func standIn(status int, pidns string) (pid int, die func() error, err error) {
	ws := syscall.WaitStatus(status)
	if !ws.Exited() && !(ws.Signaled() && !ws.CoreDump()) {
		return 0, nil, fmt.Errorf("wait status %#x is not an exit nor a signal without core", status)
	}
	cmd := exec.Command(standInExe)
	cmd.Args = []string{"criu-stand-in"}
	cmd.Env = []string{standInEnv + "=" + strconv.Itoa(status)}
	// No parent death signal: Go's child checks its parent by getppid,
	// which is 0 in another pid namespace, and would take it at once.
	// If criu dies, the stand-in's stdin reaches end of file and it dies.
	w, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, err
	}
	// Started from a thread of its own, in pidns for its children, that
	// ends with its goroutine, locked, once the stand-in is reaped: no
	// other goroutine runs on it (the runtime makes new threads from a
	// clean one for a locked thread).
	started, done := make(chan error), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		started <- startIn(cmd, pidns)
		<-done
	}()
	if err := <-started; err != nil {
		close(done)
		w.Close()
		return 0, nil, fmt.Errorf("start a stand-in of a task that had exited: %w", err)
	}
	die = func() error {
		defer close(done)
		w.Close()
		err := cmd.Wait()
		if cmd.ProcessState == nil {
			return fmt.Errorf("reap stand-in %d: %w", cmd.Process.Pid, err)
		}
		got, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || int(got) != status {
			return fmt.Errorf("stand-in %d died with wait status %#x, want %#x: %v", cmd.Process.Pid, int(got), status, err)
		}
		return nil
	}
	return cmd.Process.Pid, die, nil
}

// startIn starts cmd from this thread, its children's pid namespace set
// to pidns first unless that is "". Runs on a locked thread that is not
// used again.
func startIn(cmd *exec.Cmd, pidns string) error {
	if pidns != "" {
		ns, err := unix.Open(pidns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: pidns, Err: err}
		}
		err = unix.Setns(ns, unix.CLONE_NEWPID)
		unix.Close(ns)
		if err != nil {
			return fmt.Errorf("enter pid namespace %s: %w", pidns, os.NewSyscallError("setns", err))
		}
	}
	return cmd.Start()
}
