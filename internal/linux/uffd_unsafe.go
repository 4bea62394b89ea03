package linux

import (
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlPtr issues an ioctl whose argument is a pointer to a kernel
// struct, retrying once if interrupted; the error is named "ioctl".
func ioctlPtr(fd int, req uintptr, p unsafe.Pointer) (uintptr, error) {
	r, err := RetryEINTR(Once, func() (uintptr, error) {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
		return r, errno(e)
	})
	return r, os.NewSyscallError("ioctl", err)
}

// IoctlUffdioAPI is ioctl(UFFDIO_API) on the userfaultfd fd.
func IoctlUffdioAPI(fd int, a *UffdioAPI) error {
	_, err := ioctlPtr(fd, UFFDIO_API, unsafe.Pointer(a))
	return err
}

// IoctlUffdioRegister is ioctl(UFFDIO_REGISTER) on the userfaultfd fd.
func IoctlUffdioRegister(fd int, a *UffdioRegister) error {
	_, err := ioctlPtr(fd, UFFDIO_REGISTER, unsafe.Pointer(a))
	return err
}

// IoctlUffdioWriteprotect is ioctl(UFFDIO_WRITEPROTECT) on the
// userfaultfd fd.
func IoctlUffdioWriteprotect(fd int, a *UffdioWriteprotect) error {
	_, err := ioctlPtr(fd, UFFDIO_WRITEPROTECT, unsafe.Pointer(a))
	return err
}

// IoctlUffdioCopy is ioctl(UFFDIO_COPY) on the userfaultfd fd: len(src)
// bytes from src to dst in the uffd's mm, with mode. It returns the
// bytes copied, which may be fewer on an error (EAGAIN, EEXIST).
func IoctlUffdioCopy(fd int, dst uint64, src []byte, mode uint64) (int64, error) {
	if len(src) == 0 {
		return 0, nil
	}
	c := UffdioCopy{Dst: dst, Src: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(src)))), Len: uint64(len(src)), Mode: mode}
	_, err := ioctlPtr(fd, UFFDIO_COPY, unsafe.Pointer(&c))
	runtime.KeepAlive(src)
	return max(c.Copy, 0), err
}

// IoctlUffdioUnregister is ioctl(UFFDIO_UNREGISTER) on the
// userfaultfd fd.
func IoctlUffdioUnregister(fd int, r *UffdioRange) error {
	_, err := ioctlPtr(fd, UFFDIO_UNREGISTER, unsafe.Pointer(r))
	return err
}

// IoctlUffdioWake is ioctl(UFFDIO_WAKE) on the userfaultfd fd.
func IoctlUffdioWake(fd int, r *UffdioRange) error {
	_, err := ioctlPtr(fd, UFFDIO_WAKE, unsafe.Pointer(r))
	return err
}

// IoctlPagemapScan is ioctl(PAGEMAP_SCAN) on the pagemap file fd with
// vec as the output regions; it returns how many regions were filled.
func IoctlPagemapScan(fd int, a *PmScanArg, vec []PageRegion) (int, error) {
	a.Vec = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	a.VecLen = uint64(len(vec))
	n, err := ioctlPtr(fd, PAGEMAP_SCAN, unsafe.Pointer(a))
	runtime.KeepAlive(vec)
	return int(n), err
}
