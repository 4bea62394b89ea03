package linux

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// IoSetup makes an AIO context of nr events for this process (io_setup):
// its id is the address of its ring.
func IoSetup(nr uint32) (uint64, error) {
	var ctx uint64
	if _, _, e := unix.Syscall(unix.SYS_IO_SETUP, uintptr(nr), uintptr(unsafe.Pointer(&ctx)), 0); e != 0 {
		return 0, os.NewSyscallError("io_setup", e)
	}
	return ctx, nil
}

// IoDestroy ends the AIO context ctx (io_destroy).
func IoDestroy(ctx uint64) error {
	if _, _, e := unix.Syscall(unix.SYS_IO_DESTROY, uintptr(ctx), 0, 0); e != 0 {
		return os.NewSyscallError("io_destroy", e)
	}
	return nil
}

// Mremap moves the n bytes mapped at old to new (mremap with
// MREMAP_MAYMOVE|MREMAP_FIXED), returning where they are.
func Mremap(old, n, new uint64) (uint64, error) {
	r, _, e := unix.Syscall6(unix.SYS_MREMAP, uintptr(old), uintptr(n), uintptr(n), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED, uintptr(new), 0)
	if e != 0 {
		return 0, os.NewSyscallError("mremap", e)
	}
	return uint64(r), nil
}
