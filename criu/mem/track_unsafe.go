package mem

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlPtr issues an ioctl whose argument is a pointer to a kernel
// struct, retrying once on EINTR.
func ioctlPtr[T any](fd int, req uintptr, arg *T) error {
	_, err := ioctl(fd, req, unsafe.Pointer(arg))
	return err
}

func ioctl(fd int, req uintptr, p unsafe.Pointer) (uintptr, error) {
	for i := 0; ; i++ {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
		if e == unix.EINTR && i == 0 {
			continue
		}
		if e != 0 {
			return r, e
		}
		return r, nil
	}
}

// pagemapScan runs PAGEMAP_SCAN with vec as the output regions and
// returns how many regions were filled.
func pagemapScan(fd int, a *pmScanArg, vec []pageRegion) (int, error) {
	a.Vec = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	a.VecLen = uint64(len(vec))
	n, err := ioctl(fd, pagemapScanReq, unsafe.Pointer(a))
	runtime.KeepAlive(vec)
	return int(n), err
}
