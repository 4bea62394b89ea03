// Package spawn creates the root task of a restore, stopped under the
// tracer before any code of its own ran, in the tree's new namespaces
// and with its pid; the restore then builds it by injected system
// calls (criu/restore).
//
// The root is a copy of a stub: the dumped executable, started traced
// (PTRACE_TRACEME) so that it stops at its exec. The stub clones the
// root (clone3 with CLONE_PARENT, so that the root is criu's child, and
// set_tid, or CLONE_NEWPID for the init of a new pid namespace), after
// entering the tree's time namespace (timens.Enter: only a child enters
// it), and is killed.
//
// With Spec.Sibling (CRIU's --restore-sibling: LXC takes the restored
// container's init as its own child) the root is a child of criu's
// parent instead. The stub's clones are criu's children, so criu clones
// the root itself (linux.ForkSibling, CLONE_PARENT), seizes it before it
// executes the dumped executable and takes it at its exec stop, in the
// state a stub's clone has. The time namespace is entered by criu's
// tracer thread (unshare(CLONE_NEWTIME) applies to the children of the
// thread that calls it): that thread, which lives as long as the
// restore's tracer, creates its later children in it too.
package spawn

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/mem"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/timens"
	"github.com/criugo/criu/internal/linux"
)

// Spec says which root task to make.
type Spec struct {
	// Exe is the dumped executable, as criu reaches it.
	Exe string
	// Stdio are the fds the root gets as 0, 1 and 2 (nil: criu's own).
	Stdio []uintptr
	// Pid is the root's pid (set_tid); 0 for the init of a new pid
	// namespace (Flags has CLONE_NEWPID), which is its pid 1 anyway.
	Pid int
	// Flags are the clone flags of the tree's new namespaces, but time
	// and cgroup namespaces (made apart: Clocks, and the root cgroups).
	Flags uint64
	// Clocks are the offsets of the tree's own time namespace (nil:
	// none).
	Clocks *timens.Offsets
	// Sibling makes the root a child of criu's parent.
	Sibling bool
	// Join, if set, runs in the stub before it clones the root, which
	// inherits what it joins (netns.Join: an external network
	// namespace; Flags then has no CLONE_NEWNET).
	Join func(stub *ptrace.Injector) error
	Log  zerolog.Logger
}

// Root makes the root task and returns its host pid and the address of
// a syscall instruction of its vDSO (ptrace.Injector.IP). The task is
// stopped, traced by tr with PTRACE_O_TRACECLONE and PTRACE_O_EXITKILL.
// On error nothing it made is left (a sibling dies as criu's parent's
// child, which reaps it).
func Root(tr *ptrace.Tracer, s Spec) (pid int, ip uint64, err error) {
	if s.Sibling {
		return sibling(tr, s)
	}
	files := []uintptr{0, 1, 2}
	if len(s.Stdio) == 3 {
		files = s.Stdio
	}
	attr := &syscall.ProcAttr{Dir: "/", Env: []string{}, Files: files}
	stub, err := tr.StartTraced(s.Exe, []string{s.Exe}, attr)
	if err != nil {
		return 0, 0, fmt.Errorf("start stub: %w", err)
	}
	// Its work is done once the root exists, or failed.
	defer tr.Kill(stub, []int{stub})
	if err := tr.SetOptions(stub, ptrace.OptTraceClone|ptrace.OptExitKill); err != nil {
		return 0, 0, err
	}
	regs, err := tr.GetRegs(stub)
	if err != nil {
		return 0, 0, err
	}
	maps, err := procfs.ReadMaps(stub)
	if err != nil {
		return 0, 0, err
	}
	if ip, err = ptrace.FindSyscall(stub, maps); err != nil {
		return 0, 0, err
	}
	// clone_args and the set_tid array go below the stub's stack pointer.
	args := (regs.Rsp - 4096) &^ 15
	flags := unix.CLONE_PARENT | s.Flags
	b := linux.Clone3Args(linux.CloneArgs{Flags: flags}, args, s.Pid)
	if err := mem.WriteRemote(stub, []mem.Range{{Start: args, End: args + uint64(len(b))}}, b); err != nil {
		return 0, 0, err
	}
	sin := &ptrace.Injector{T: tr, Tid: stub, Base: regs, IP: ip}
	if err := timens.Enter(sin, stub, s.Clocks, s.Log); err != nil {
		return 0, 0, err
	}
	if s.Join != nil {
		if err := s.Join(sin); err != nil {
			return 0, 0, err
		}
	}
	child, err := sin.Syscall("clone3", unix.SYS_CLONE3, args, linux.CloneArgsSize)
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return 0, 0, errdefs.ErrPidTaken
		}
		return 0, 0, fmt.Errorf("create the root task (clone flags %#x): %w", flags, err)
	}
	// The stub is in our pid namespace: child is the host pid.
	root := int(child)
	defer func() {
		if err != nil {
			tr.Kill(root, []int{root})
		}
	}()
	if s.Pid != 0 && root != s.Pid {
		return 0, 0, fmt.Errorf("clone3 gave pid %d, want %d", root, s.Pid)
	}
	st, err := tr.WaitStop(root)
	if err != nil {
		return 0, 0, err
	}
	if !st.Stopped() {
		return 0, 0, fmt.Errorf("new task %d: unexpected status %#x", root, uint32(st.WaitStatus))
	}
	return root, ip, nil
}

// sibling is Root for Spec.Sibling.
func sibling(tr *ptrace.Tracer, s Spec) (pid int, ip uint64, err error) {
	if len(s.Stdio) == 3 {
		return 0, 0, fmt.Errorf("%w: --restore-sibling with the root's stdio given: the root has criu's", errdefs.ErrUnsupported)
	}
	if s.Join != nil {
		return 0, 0, fmt.Errorf("%w: --restore-sibling into a namespace to join (an external network namespace): criu clones the root itself", errdefs.ErrUnsupported)
	}
	if s.Clocks != nil {
		err := tr.Do(func() error {
			if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
				return os.NewSyscallError("unshare(CLONE_NEWTIME)", err)
			}
			return timens.SetOffsets(unix.Gettid(), *s.Clocks)
		})
		if err != nil {
			return 0, 0, fmt.Errorf("new time namespace: %w", err)
		}
	}
	root, err := tr.StartSibling(s.Exe, []string{s.Exe}, s.Flags, s.Pid, ptrace.OptTraceClone|ptrace.OptExitKill)
	if root > 0 {
		defer func() {
			if err != nil {
				tr.Kill(root, []int{root})
			}
		}()
	}
	if errors.Is(err, unix.EEXIST) {
		return 0, 0, errdefs.ErrPidTaken
	}
	if err != nil {
		return 0, 0, err
	}
	maps, err := procfs.ReadMaps(root)
	if err != nil {
		return 0, 0, err
	}
	if ip, err = ptrace.FindSyscall(root, maps); err != nil {
		return 0, 0, err
	}
	return root, ip, nil
}
