package kerndat

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
)

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
	same, err := linux.KcmpEpollTfd(pid, pid, ev, linux.KcmpEpollSlot{Efd: uint32(ep), Tfd: uint32(ev)})
	if err != nil {
		return "", err
	}
	if !same {
		return "", fmt.Errorf("kcmp(KCMP_EPOLL_TFD) says an epoll's target differs from itself")
	}
	return "kcmp(KCMP_EPOLL_TFD)", nil
}
