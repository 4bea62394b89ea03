package anonfd

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tfdIocSetTicks is TFD_IOC_SET_TICKS, _IOW('T', 0, u64)
// (include/uapi/linux/timerfd.h).
const tfdIocSetTicks = 0x40085400

// setTimerfdTicks sets the expirations a timerfd has not reported yet.
func setTimerfdTicks(fd int, ticks uint64) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), tfdIocSetTicks, uintptr(unsafe.Pointer(&ticks)))
	if e != 0 {
		return os.NewSyscallError("ioctl(TFD_IOC_SET_TICKS)", e)
	}
	return nil
}
