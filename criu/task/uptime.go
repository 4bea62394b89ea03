package task

import (
	"os"

	"golang.org/x/sys/unix"
)

// Uptime is the time since boot in microseconds (CLOCK_BOOTTIME), as
// the inventory's dump_uptime holds it.
func Uptime() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, os.NewSyscallError("clock_gettime(CLOCK_BOOTTIME)", err)
	}
	return uint64(ts.Nano() / 1000), nil
}
