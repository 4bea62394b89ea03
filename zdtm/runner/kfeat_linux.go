package runner

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// kernelHas tells whether the kernel has the feature a test's `needs:`
// names, for the names that are kernel features rather than CPU flags
// (known false for a CPU flag).
func kernelHas(name string) (has, known bool) {
	switch name {
	case "timens":
		_, err := os.Stat("/proc/self/ns/time")
		return err == nil, true
	case "hugetlb":
		// Huge pages free for the test (vm.nr_hugepages, which .ci/run
		// sets): a system setting, not a build of the kernel.
		b, err := os.ReadFile("/proc/meminfo")
		if err != nil {
			return false, true
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "HugePages_Free:" {
				n, _ := strconv.Atoi(f[1])
				return n >= 8, true
			}
		}
		return false, true
	case "loop":
		// Loop block devices (7:0 and 7:1), for a test of block device
		// nodes.
		_, err0 := os.Stat("/sys/dev/block/7:0")
		_, err1 := os.Stat("/sys/dev/block/7:1")
		return err0 == nil && err1 == nil, true
	case "vt":
		// Virtual terminals (CONFIG_VT): the tests open /dev/tty8 and
		// /dev/tty9 (char 4:8, 4:9).
		return charDev("/sys/dev/char/4:8") && charDev("/sys/dev/char/4:9"), true
	case "console":
		return charDev("/sys/dev/char/5:1"), true
	case "mptcp":
		// A kernel without MPTCP answers EPROTONOSUPPORT (not built)
		// or ENOPROTOOPT (net.mptcp.enabled=0).
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_MPTCP)
		if err == nil {
			unix.Close(fd)
		}
		return !errors.Is(err, unix.EPROTONOSUPPORT) && !errors.Is(err, unix.ENOPROTOOPT), true
	}
	return false, false
}

// charDev tells whether the kernel has the character device of the
// /sys/dev/char entry path.
func charDev(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
