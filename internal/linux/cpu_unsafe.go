package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Getcpu is getcpu(2): the CPU the calling thread runs on now.
func Getcpu() (int, error) {
	var cpu uint32
	_, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	if e != 0 {
		return 0, os.NewSyscallError("getcpu", e)
	}
	return int(cpu), nil
}
