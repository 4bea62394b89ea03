package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

// A dump killed with SIGKILL cannot undo anything: the kernel detaches
// its tracees, which run on (not stopped, not traced: a SIGKILLed
// tracer's PTRACE_SEIZE tracees are let go, as tested), but a thread
// caught inside an injected syscall keeps the injected registers (it
// resumes after the [vdso] syscall instruction with them) and the
// all-blocking signal mask of the injection, and the 2-page scratch
// mapping stays from its mmap to its munmap (the registers and
// task-core reads of one task). So dump
// and pre-dump run in a worker process, a child of the criu the user
// started: that one only waits, forwards the interrupting signals, and
// exits with the worker's status. Its death (SIGKILL, a killed session)
// reaches the worker as SIGTERM (PR_SET_PDEATHSIG), and the worker stops
// and lets the tree go as for any interruption. Only a SIGKILL of the
// worker itself (pkill -9 criu kills both) still leaves what is said
// above, for the thread being injected at that instant.

// workerEnv marks the worker; it is removed from the worker's
// environment at once.
const workerEnv = "CRIU_GO_WORKER"

// isWorker is set in the worker (supervise).
var isWorker bool

// supervisedCommands are the commands run in a worker.
var supervisedCommands = map[string]bool{"dump": true, "pre-dump": true}

// supervise runs the command of args in a worker and returns its exit
// status, or ok=false when the command runs in this process (this is
// the worker, or the command is not supervised).
func supervise(args []string) (status int, ok bool) {
	if os.Getenv(workerEnv) != "" {
		os.Unsetenv(workerEnv)
		isWorker = true
		return 0, false
	}
	name := ""
	for _, a := range args {
		if _, isCmd := commands[a]; isCmd {
			name = a
			break
		}
	}
	if !supervisedCommands[name] {
		return 0, false
	}
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return 0, false
		}
	}
	// PR_SET_PDEATHSIG fires when the thread that forked the worker
	// ends: this goroutine keeps it for the process's life.
	runtime.LockOSThread()
	files, err := inheritedFds()
	if err != nil {
		fmt.Fprintf(os.Stderr, "criu %s: %v\n", name, err)
		return 1, true
	}
	sigs := earlySignals
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	pid, err := syscall.ForkExec("/proc/self/exe", append([]string{exe}, args...), &syscall.ProcAttr{
		Env:   append(os.Environ(), workerEnv+"=1"),
		Files: files,
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "criu %s: start worker: %v\n", name, err)
		return 1, true
	}
	go func() {
		for s := range sigs {
			if s != syscall.SIGPIPE {
				syscall.Kill(pid, s.(syscall.Signal))
			}
		}
	}()
	for {
		var ws unix.WaitStatus
		_, err := linux.RetryEINTR(linux.Always, func() (int, error) { return unix.Wait4(pid, &ws, 0, nil) })
		if err != nil {
			fmt.Fprintf(os.Stderr, "criu %s: wait for worker %d: %v\n", name, pid, err)
			return 1, true
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus(), true
		case ws.Signaled():
			return 128 + int(ws.Signal()), true
		}
	}
}

// inheritedFds lists this process's open fds as ProcAttr.Files: the
// worker gets each under the same number (--status-fd, --inherit-fd,
// a tty), and nothing else.
func inheritedFds() ([]uintptr, error) {
	// Raw calls: an os.File would start the runtime's poller, whose fds
	// would be listed too.
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("open /proc/self/fd", err)
	}
	defer unix.Close(dir)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.ReadDirent(dir, buf)
		if err != nil {
			return nil, os.NewSyscallError("getdents /proc/self/fd", err)
		}
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	var files []uintptr
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd == dir || fd > 1<<16 {
			continue
		}
		for len(files) <= fd {
			files = append(files, ^uintptr(0))
		}
		files[fd] = uintptr(fd)
	}
	for len(files) < 3 {
		files = append(files, ^uintptr(0))
	}
	return files, nil
}
