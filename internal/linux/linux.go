package linux

import (
	"os"

	"golang.org/x/sys/unix"
)

// Wait4 is wait4(2), retried while interrupted.
func Wait4(pid int, ws *unix.WaitStatus, options int) (int, error) {
	got, err := RetryEINTR(Always, func() (int, error) { return unix.Wait4(pid, ws, options, nil) })
	return got, os.NewSyscallError("wait4", err)
}

// Setns is setns(2), retried once if interrupted.
func Setns(fd, nstype int) error {
	return os.NewSyscallError("setns", retryErr(Once, func() error { return unix.Setns(fd, nstype) }))
}

// Madvise is madvise(2), retried once if interrupted.
func Madvise(b []byte, advice int) error {
	return os.NewSyscallError("madvise", retryErr(Once, func() error { return unix.Madvise(b, advice) }))
}

// Pread is pread(2), retried while interrupted.
func Pread(fd int, p []byte, off int64) (int, error) {
	n, err := RetryEINTR(Always, func() (int, error) { return unix.Pread(fd, p, off) })
	return n, os.NewSyscallError("pread", err)
}

// Pwrite is pwrite(2), retried while interrupted.
func Pwrite(fd int, p []byte, off int64) (int, error) {
	n, err := RetryEINTR(Always, func() (int, error) { return unix.Pwrite(fd, p, off) })
	return n, os.NewSyscallError("pwrite", err)
}

// ProcessVMReadv is process_vm_readv(2), retried while interrupted.
func ProcessVMReadv(pid int, local []unix.Iovec, remote []unix.RemoteIovec) (int, error) {
	n, err := RetryEINTR(Always, func() (int, error) { return unix.ProcessVMReadv(pid, local, remote, 0) })
	return n, os.NewSyscallError("process_vm_readv", err)
}

// ProcessVMWritev is process_vm_writev(2), retried while interrupted.
func ProcessVMWritev(pid int, local []unix.Iovec, remote []unix.RemoteIovec) (int, error) {
	n, err := RetryEINTR(Always, func() (int, error) { return unix.ProcessVMWritev(pid, local, remote, 0) })
	return n, os.NewSyscallError("process_vm_writev", err)
}

// RseqUnregister is rseq(addr, size, RSEQ_FLAG_UNREGISTER, sig). With a
// NULL area it fails with EINVAL where rseq exists, ENOSYS where not.
func RseqUnregister(addr uintptr, size uint32, sig uint32) error {
	const rseqFlagUnregister = 1 // include/uapi/linux/rseq.h
	_, _, e := unix.Syscall6(unix.SYS_RSEQ, addr, uintptr(size), rseqFlagUnregister, uintptr(sig), 0, 0)
	return os.NewSyscallError("rseq", errno(e))
}

// Userfaultfd is userfaultfd(2) in this process.
func Userfaultfd(flags int) (int, error) {
	fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, uintptr(flags), 0, 0)
	if e != 0 {
		return -1, os.NewSyscallError("userfaultfd", e)
	}
	return int(fd), nil
}

// prctl(PR_TIMER_CREATE_RESTORE_IDS) (include/uapi/linux/prctl.h,
// Linux 6.15).
const (
	PR_TIMER_CREATE_RESTORE_IDS     = 77
	PR_TIMER_CREATE_RESTORE_IDS_OFF = 0
	PR_TIMER_CREATE_RESTORE_IDS_ON  = 1
	PR_TIMER_CREATE_RESTORE_IDS_GET = 2
)

// PrctlTimerCreateRestoreIDs is prctl(PR_TIMER_CREATE_RESTORE_IDS, op);
// it returns what the prctl returns (for _GET, whether it is on).
func PrctlTimerCreateRestoreIDs(op int) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_PRCTL, PR_TIMER_CREATE_RESTORE_IDS, uintptr(op), 0, 0, 0, 0)
	if e != 0 {
		return 0, os.NewSyscallError("prctl(PR_TIMER_CREATE_RESTORE_IDS)", e)
	}
	return int(r), nil
}

// IOPRIO_WHO_* (include/uapi/linux/ioprio.h).
const (
	IOPRIO_WHO_PROCESS = 1
	IOPRIO_WHO_PGRP    = 2
	IOPRIO_WHO_USER    = 3
)

// IoprioGet is ioprio_get(2): the I/O priority of who, 0 if none was set.
func IoprioGet(which, who int) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, uintptr(which), uintptr(who), 0)
	if e != 0 {
		return 0, os.NewSyscallError("ioprio_get", e)
	}
	return int(r), nil
}

// IoctlGetPtyPeer is ioctl(TIOCGPTPEER): it opens, with flags, the slave
// of the pty master fd.
func IoctlGetPtyPeer(fd, flags int) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, uintptr(flags))
	if e != 0 {
		return -1, os.NewSyscallError("ioctl(TIOCGPTPEER)", e)
	}
	return int(r), nil
}

// KCMP_* types (include/uapi/linux/kcmp.h).
const (
	KCMP_FILE      = 0
	KCMP_VM        = 1
	KCMP_FILES     = 2
	KCMP_FS        = 3
	KCMP_SIGHAND   = 4
	KCMP_IO        = 5
	KCMP_SYSVSEM   = 6
	KCMP_EPOLL_TFD = 7
)

// Kcmp is kcmp(2), retried once if interrupted: it reports whether pid1
// and pid2 share the kernel object of type typ (for KCMP_FILE, the open
// file description behind idx1 of pid1 and idx2 of pid2).
func Kcmp(pid1, pid2, typ, idx1, idx2 int) (bool, error) {
	r, err := RetryEINTR(Once, func() (uintptr, error) {
		r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid1), uintptr(pid2), uintptr(typ), uintptr(idx1), uintptr(idx2), 0)
		return r, errno(e)
	})
	if err != nil {
		return false, os.NewSyscallError("kcmp", err)
	}
	return r == 0, nil
}

// Poll is poll(2), retried while interrupted.
func Poll(fds []unix.PollFd, timeout int) (int, error) {
	n, err := RetryEINTR(Always, func() (int, error) { return unix.Poll(fds, timeout) })
	return n, os.NewSyscallError("poll", err)
}

// CopyFd copies fd of pid into this process (pidfd_open, then
// pidfd_getfd): the same open file description, so reading state from
// the copy reads the task's object. The caller closes it.
func CopyFd(pid, fd int) (int, error) {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	defer unix.Close(pfd)
	nfd, err := unix.PidfdGetfd(pfd, fd, 0)
	if err != nil {
		return -1, os.NewSyscallError("pidfd_getfd", err)
	}
	return nfd, nil
}
