package linux

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ForkSibling creates, with clone3 from the calling thread, a child of
// the calling process's own parent (CLONE_PARENT is added to flags), as
// CRIU's --restore-sibling makes the restored root: with flags' new
// namespaces, this process's exit signal and, unless setTid is 0, the pid
// setTid (set_tid, CAP_CHECKPOINT_RESTORE). The child, a one-thread copy
// of this process that runs no Go code, waits on a pipe; ForkSibling
// calls ready(pid) (for the caller to attach to it, PTRACE_SEIZE with
// PTRACE_O_TRACEEXEC) and only when ready returns nil lets it go on:
// then the child closes every fd above 2 and executes path with argv
// and no environment, so that its first stop under the tracer is its
// exec, before any of path's code ran. If ready fails, or this process
// dies first, the child exits with status 1 without executing path; if
// the exec fails it exits with status 127.
//
// Every signal is blocked on the calling thread across the clone (the
// child keeps that mask through its exec: the caller sets the mask it
// wants). The calling thread must be locked (runtime.LockOSThread).
func ForkSibling(flags uint64, setTid int, path string, argv []string, ready func(pid int) error) (int, error) {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	av, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return 0, err
	}
	env := []*byte{nil}
	var gate [2]int
	if err := unix.Pipe2(gate[:], unix.O_CLOEXEC); err != nil {
		return 0, os.NewSyscallError("pipe2", err)
	}
	defer unix.Close(gate[0])
	wr := os.NewFile(uintptr(gate[1]), "sibling gate")
	defer wr.Close()
	tid := new([1]int32) // on the heap: the clone_args hold its address as a number
	tid[0] = int32(setTid)
	// clone3 wants exit_signal 0 with CLONE_PARENT: the child gets this
	// process's own (SIGCHLD, as LXC's child criu).
	args := CloneArgs{Flags: flags | unix.CLONE_PARENT}
	if setTid != 0 {
		args.SetTid, args.SetTidSize = uint64(uintptr(unsafe.Pointer(&tid[0]))), 1
	}
	all, old := ^uint64(0), uint64(0)
	if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), SigsetSize, 0, 0); e != 0 {
		return 0, os.NewSyscallError("rt_sigprocmask", e)
	}
	pid, e := cloneSibling(&args, gate[0], gate[1], p, &av[0], &env[0])
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, SigsetSize, 0, 0)
	runtime.KeepAlive(tid)
	runtime.KeepAlive(p)
	runtime.KeepAlive(av)
	runtime.KeepAlive(env)
	if e != 0 {
		return 0, os.NewSyscallError("clone3", e)
	}
	if err := ready(int(pid)); err != nil {
		return int(pid), err // the gate closes: the child exits
	}
	if _, err := wr.Write([]byte{1}); err != nil {
		return int(pid), fmt.Errorf("let sibling %d go: %w", pid, err)
	}
	return int(pid), nil
}

// cloneSibling is the clone3 of ForkSibling and, in the child, all the
// child runs: raw system calls on values prepared before, no allocation,
// no stack growth (nosplit), as the syscall package's own fork child.
//
//go:norace
//go:nosplit
func cloneSibling(args *CloneArgs, gate, gateW int, path *byte, argv, envp **byte) (uintptr, syscall.Errno) {
	pid, _, e := syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(args)), CloneArgsSize, 0)
	if e != 0 || pid != 0 {
		return pid, e
	}
	// The child: its copy of the write end closed, the read sees the
	// end of file when this process is gone.
	syscall.RawSyscall(unix.SYS_CLOSE, uintptr(gateW), 0, 0)
	var b [1]byte
	for {
		n, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(gate), uintptr(unsafe.Pointer(&b[0])), 1)
		if e == unix.EINTR {
			continue
		}
		if e != 0 || n != 1 {
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 1, 0, 0)
		}
		break
	}
	syscall.RawSyscall(unix.SYS_CLOSE_RANGE, 3, ^uintptr(0), 0)
	syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(argv)), uintptr(unsafe.Pointer(envp)))
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 127, 0, 0)
	}
}
