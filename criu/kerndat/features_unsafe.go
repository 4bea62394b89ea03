package kerndat

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tfdIocSetTicks is TFD_IOC_SET_TICKS, _IOW('T', 0, u64)
// (include/uapi/linux/timerfd.h).
const tfdIocSetTicks = 0x40085400

func setTimerfdTicks(fd int, ticks uint64) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), tfdIocSetTicks, uintptr(unsafe.Pointer(&ticks)))
	if e != 0 {
		return os.NewSyscallError("ioctl(TFD_IOC_SET_TICKS)", e)
	}
	return nil
}

// kcmpEpollTfd is KCMP_EPOLL_TFD (include/uapi/linux/kcmp.h); the slot
// mirrors struct kcmp_epoll_slot.
const kcmpEpollTfd = 7

type kcmpEpollSlot struct{ efd, tfd, toff uint32 }

// probeKcmpEpoll: kcmp tells which file an epoll watches, as dump finds
// an epoll's targets.
func probeKcmpEpoll() (string, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return "", os.NewSyscallError("epoll_create1", err)
	}
	defer unix.Close(ep)
	ev, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return "", os.NewSyscallError("eventfd", err)
	}
	defer unix.Close(ev)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ev, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ev)}); err != nil {
		return "", os.NewSyscallError("epoll_ctl", err)
	}
	pid := os.Getpid()
	slot := kcmpEpollSlot{efd: uint32(ep), tfd: uint32(ev)}
	r, _, e := unix.Syscall6(unix.SYS_KCMP, uintptr(pid), uintptr(pid), kcmpEpollTfd, uintptr(ev), uintptr(unsafe.Pointer(&slot)), 0)
	if e != 0 {
		return "", os.NewSyscallError("kcmp(KCMP_EPOLL_TFD)", e)
	}
	if r != 0 {
		return "", fmt.Errorf("kcmp(KCMP_EPOLL_TFD) says an epoll's target differs from itself")
	}
	return "kcmp(KCMP_EPOLL_TFD)", nil
}
