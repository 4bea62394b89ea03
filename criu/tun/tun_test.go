package tun

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// openTun attaches a new /dev/net/tun file to a new device name with
// flags, in the calling thread's network namespace.
func openTun(t *testing.T, name string, flags uint32) int {
	t.Helper()
	fd, err := unix.Open(Path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		t.Skipf("no %s: %v", Path, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := setIff(fd, name, flags); err != nil {
		t.Fatal(err)
	}
	return fd
}

// A tun file whose device is in criu's own network namespace (the
// host's) is refused by name: the dump does not save that namespace.
func TestDumpFDRefusesCriuNamespace(t *testing.T) {
	crtest.RequireRoot(t)
	name := fmt.Sprintf("zdtmt%d", os.Getpid()%100000)
	fd := openTun(t, name, unix.IFF_TUN|unix.IFF_NO_PI)
	_, _, err := DumpFD(os.Getpid(), fd, 7, 1, unix.O_RDWR, 0, "/proc/thread-self/ns/net")
	if !errors.Is(err, errdefs.ErrUnsupported) {
		t.Fatalf("DumpFD of a device in criu's namespace: %v, want ErrUnsupported", err)
	}
	t.Logf("refused: %v", err)
}

// In a namespace of its own, a tap file is described as CRIU does (a
// reg_file_entry and a tunfile_entry of one id) with its device's
// settings, and Opener attaches a new file to the device made again by
// MakeLink from them, with the same flags.
func TestDumpFDAndRestore(t *testing.T) {
	crtest.RequireRoot(t)
	runtime.LockOSThread() // the thread is left in the new namespace: not unlocked
	host, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	fd := openTun(t, "zt9", unix.IFF_TAP|unix.IFF_NO_PI|unix.IFF_VNET_HDR)
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, 12); err != nil {
		t.Fatal(err)
	}
	// criu's namespace is the one this thread left, not its own.
	es, dev, err := DumpFD(os.Getpid(), fd, 7, 1, unix.O_RDWR, 0, fmt.Sprintf("/proc/self/fd/%d", host.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].GetReg().GetName() != Path || es[1].GetTunf().GetNetdev() != "zt9" || es[0].GetId() != es[1].GetId() {
		t.Fatalf("entries %v", es)
	}
	if dev.VnetHdr != 12 || dev.Flags&(unix.IFF_TAP|unix.IFF_VNET_HDR) != unix.IFF_TAP|unix.IFF_VNET_HDR {
		t.Fatalf("device %+v", dev)
	}
	unix.Close(fd)
	// The device went with its file; made again.
	le := LinkEntry(dev, false, -1, -1)
	if err := MakeLink("zt9", 0, le); err != nil {
		t.Fatal(err)
	}
	o := &Opener{Links: map[string]*images.TunLinkEntry{"zt9": le}}
	nfd, err := o.OpenFile(es[1].GetTunf(), unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nfd)
	ifr, _ := unix.NewIfreq("")
	if err := unix.IoctlIfreq(nfd, unix.TUNGETIFF, ifr); err != nil {
		t.Fatal(err)
	}
	if got := uint32(ifr.Uint16()); got&^unix.IFF_PERSIST != dev.Flags || got&unix.IFF_PERSIST != 0 {
		t.Errorf("restored flags %#x, want %#x without IFF_PERSIST", got, dev.Flags)
	}
	if v, err := unix.IoctlGetInt(nfd, unix.TUNGETVNETHDRSZ); err != nil || v != 12 {
		t.Errorf("vnet header size %d, %v", v, err)
	}
}
