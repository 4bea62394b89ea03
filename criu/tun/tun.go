// Package tun checkpoints tun/tap devices and the /dev/net/tun files
// attached to them, as CRIU does: the device with its settings in the
// network namespace's netdev-N.img (tun_link_entry), each task's file in
// files.img (tunfile_entry, beside a reg_file_entry of the same id for
// CRIU). A device lives in a namespace the dump saves: one in criu's own
// namespace is the host's, and is refused by name.
//
// At restore the namespace's devices are made first, persistent, with
// their index, flags, owner, group, send buffer and vnet header size
// (MakeLink); each file is opened in the tree's namespace and attached
// to its device by name (OpenFile), its queue detached if it was; the
// first file of a device that was not persistent drops the persistence,
// so that the device goes with its last file, as before.
package tun

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Path is the tun clone device.
const Path = "/dev/net/tun"

// IsTun reports whether a character device number is /dev/net/tun's
// (misc 10, minor 200).
func IsTun(rdev uint64) bool { return unix.Major(rdev) == 10 && unix.Minor(rdev) == 200 }

// features are the TUNSETIFF flags a device keeps (TUN_FEATURES and the
// type bits), as TUNGETIFF reports them.
const features = unix.IFF_TUN | unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_ONE_QUEUE | unix.IFF_VNET_HDR | unix.IFF_MULTI_QUEUE | unix.IFF_NAPI | unix.IFF_NAPI_FRAGS

// Device is what a dump learns of a device through a file attached to
// it.
type Device struct {
	Name    string
	Flags   uint32 // TUNGETIFF's, IFF_PERSIST included
	VnetHdr uint32
	SndBuf  uint32
}

// DumpFD describes the /dev/net/tun file at fd of task pid, with status
// flags flags at offset pos, as file id of the network namespace nsID:
// its files.img entries (CRIU's reg_file_entry of the same id first,
// then the tunfile_entry) and the device it is attached to, if any, for
// the namespace's dump (DumpOptions.Tun). criuNet is criu's network
// namespace (a /proc/PID/ns/net path, PID criu's): a device there is
// refused.
func DumpFD(pid, fd int, id, nsID, flags uint32, pos uint64, criuNet string) (entries []*images.FileEntry, dev *Device, err error) {
	c, err := linux.CopyFd(pid, fd)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(c)
	te, dev, err := dumpFile(c, id, nsID, criuNet)
	if err != nil {
		return nil, nil, err
	}
	reg := &images.FileEntry{Type: images.FdTypes_REG.Enum(), Id: proto.Uint32(id), Reg: &images.RegFileEntry{
		Id: proto.Uint32(id), Flags: proto.Uint32(flags), Pos: proto.Uint64(pos), Name: proto.String(Path), Fown: image.ZeroFown(),
	}}
	return []*images.FileEntry{reg, {Type: images.FdTypes_TUNF.Enum(), Id: proto.Uint32(id), Tunf: te}}, dev, nil
}

// dumpFile describes fd, criu's copy of a tun file.
func dumpFile(fd int, id, nsID uint32, criuNet string) (*images.TunfileEntry, *Device, error) {
	e := &images.TunfileEntry{Id: proto.Uint32(id), NsId: proto.Uint32(nsID)}
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlIfreq(fd, unix.TUNGETIFF, ifr); errors.Is(err, unix.EBADFD) {
		return e, nil, nil // opened, never attached
	} else if err != nil {
		return nil, nil, fmt.Errorf("tun file: %w", os.NewSyscallError("ioctl TUNGETIFF", err))
	}
	d := &Device{Name: ifr.Name(), Flags: uint32(ifr.Uint16())}
	nsfd, err := unix.IoctlRetInt(fd, unix.TUNGETDEVNETNS)
	if err != nil {
		return nil, nil, fmt.Errorf("tun device %s: %w", d.Name, os.NewSyscallError("ioctl TUNGETDEVNETNS", err))
	}
	var devNS, criuNS unix.Stat_t
	err = unix.Fstat(nsfd, &devNS)
	unix.Close(nsfd)
	if err == nil {
		err = unix.Stat(criuNet, &criuNS)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("tun device %s: its network namespace: %w", d.Name, os.NewSyscallError("stat", err))
	}
	own := devNS.Ino == criuNS.Ino && devNS.Dev == criuNS.Dev
	if own {
		return nil, nil, fmt.Errorf("%w: tun/tap device %s is in criu's network namespace, which the dump does not save (dump a tree in a network namespace of its own)", errdefs.ErrUnsupported, d.Name)
	}
	if d.Flags&unix.IFF_DETACH_QUEUE != 0 {
		e.Detached = proto.Bool(true)
	}
	d.Flags &^= unix.IFF_DETACH_QUEUE | unix.IFF_ATTACH_QUEUE
	if err := deviceSettings(fd, d); err != nil {
		return nil, nil, err
	}
	e.Netdev = proto.String(d.Name)
	return e, d, nil
}

// deviceSettings reads, through an attached fd, what TUNGETIFF does not
// give; a tap with a socket filter on it is refused (the program is in
// the task's memory, which the kernel does not show whole).
func deviceSettings(fd int, d *Device) error {
	v, err := unix.IoctlGetInt(fd, unix.TUNGETVNETHDRSZ)
	if err != nil {
		return fmt.Errorf("tun device %s: %w", d.Name, os.NewSyscallError("ioctl TUNGETVNETHDRSZ", err))
	}
	s, err := unix.IoctlGetInt(fd, unix.TUNGETSNDBUF)
	if err != nil {
		return fmt.Errorf("tun device %s: %w", d.Name, os.NewSyscallError("ioctl TUNGETSNDBUF", err))
	}
	d.VnetHdr, d.SndBuf = uint32(v), uint32(s)
	if d.Flags&unix.IFF_TAP != 0 {
		n, err := linux.IoctlTunGetFilter(fd)
		if err != nil {
			return fmt.Errorf("tun device %s: %w", d.Name, err)
		}
		if n != 0 {
			return fmt.Errorf("%w: tap device %s has a socket filter of %d instructions (TUNATTACHFILTER), which cannot be read back", errdefs.ErrUnsupported, d.Name, n)
		}
	}
	return nil
}

// Probe attaches to persistent device name of the calling thread's
// namespace, with no file of the tree on it, for its settings. flags
// are its type and features (from rtnetlink).
func Probe(name string, flags uint32) (*Device, error) {
	fd, err := unix.Open(Path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tun device %s: %w", name, os.NewSyscallError("open "+Path, err))
	}
	defer unix.Close(fd)
	d := &Device{Name: name, Flags: flags}
	// IFF_NOFILTER: the kernel must not attach a tap's filter to us.
	if err := setIff(fd, name, flags&features|unix.IFF_NOFILTER); err != nil {
		return nil, err
	}
	if err := deviceSettings(fd, d); err != nil {
		return nil, err
	}
	return d, nil
}

// setIff is TUNSETIFF: attach fd to device name, made if missing.
func setIff(fd int, name string, flags uint32) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("tun device %q: %w", name, err)
	}
	ifr.SetUint16(uint16(flags))
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("tun device %s: %w", name, os.NewSyscallError("ioctl TUNSETIFF", err))
	}
	return nil
}

// LinkEntry is CRIU's tun_link_entry of a device: flags (IFF_PERSIST
// when persist), owner and group (-1 for none) from rtnetlink, the
// rest from d.
func LinkEntry(d *Device, persist bool, owner, group int32) *images.TunLinkEntry {
	flags := d.Flags & features
	if persist {
		flags |= unix.IFF_PERSIST
	}
	return &images.TunLinkEntry{
		Flags: proto.Uint32(flags), Owner: proto.Int32(owner), Group: proto.Int32(group),
		Vnethdr: proto.Uint32(d.VnetHdr), Sndbuf: proto.Uint32(d.SndBuf),
	}
}

// MakeLink makes device name with index idx in the calling thread's
// network namespace, with the settings of e, persistent (the first file
// attached at restore drops that if e lacks IFF_PERSIST).
func MakeLink(name string, idx uint32, e *images.TunLinkEntry) error {
	if e == nil {
		return fmt.Errorf("%w: tun device %s without its settings", errdefs.ErrBadImage, name)
	}
	fd, err := unix.Open(Path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tun device %s: %w", name, os.NewSyscallError("open "+Path, err))
	}
	defer unix.Close(fd)
	step := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("tun device %s: %w", name, os.NewSyscallError("ioctl "+what, err))
		}
		return nil
	}
	if idx != 0 {
		if err := step("TUNSETIFINDEX", unix.IoctlSetPointerInt(fd, unix.TUNSETIFINDEX, int(idx))); err != nil {
			return err
		}
	}
	if err := setIff(fd, name, e.GetFlags()&features); err != nil {
		return err
	}
	if e.GetOwner() != -1 {
		if err := step("TUNSETOWNER", unix.IoctlSetInt(fd, unix.TUNSETOWNER, int(e.GetOwner()))); err != nil {
			return err
		}
	}
	if e.GetGroup() != -1 {
		if err := step("TUNSETGROUP", unix.IoctlSetInt(fd, unix.TUNSETGROUP, int(e.GetGroup()))); err != nil {
			return err
		}
	}
	if err := step("TUNSETSNDBUF", unix.IoctlSetPointerInt(fd, unix.TUNSETSNDBUF, int(e.GetSndbuf()))); err != nil {
		return err
	}
	if err := step("TUNSETVNETHDRSZ", unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, int(e.GetVnethdr()))); err != nil {
		return err
	}
	return step("TUNSETPERSIST", unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1))
}

// Opener opens the tree's tun files at restore, in the tree's network
// namespace (the calling thread's).
type Opener struct {
	// Links are the namespace's devices by name, as the images hold
	// them (their flags say which were persistent).
	Links   map[string]*images.TunLinkEntry
	dropped map[string]bool
}

// OpenFile opens the tun file of entry e with status flags flags,
// attached to its device as it was.
func (o *Opener) OpenFile(e *images.TunfileEntry, flags uint32) (fd int, err error) {
	fd, err = unix.Open(Path, int(flags&^unix.O_CLOEXEC)|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("tun file %d: %w", e.GetId(), os.NewSyscallError("open "+Path, err))
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}()
	name := e.GetNetdev()
	if name == "" {
		return fd, nil
	}
	l := o.Links[name]
	if l == nil {
		return -1, fmt.Errorf("%w: tun file %d: device %s is not in the namespace's images", errdefs.ErrBadImage, e.GetId(), name)
	}
	if err := setIff(fd, name, l.GetFlags()&features); err != nil {
		return -1, err
	}
	// A file attached to a device gets the kernel's send buffer, not
	// the device's: given again (TUNSETSNDBUF sets every queue's).
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETSNDBUF, int(l.GetSndbuf())); err != nil {
		return -1, fmt.Errorf("tun device %s: %w", name, os.NewSyscallError("ioctl TUNSETSNDBUF", err))
	}
	if e.GetDetached() {
		ifr, _ := unix.NewIfreq("")
		ifr.SetUint16(unix.IFF_DETACH_QUEUE)
		if err := unix.IoctlIfreq(fd, unix.TUNSETQUEUE, ifr); err != nil {
			return -1, fmt.Errorf("tun device %s: %w", name, os.NewSyscallError("ioctl TUNSETQUEUE", err))
		}
	}
	if l.GetFlags()&unix.IFF_PERSIST == 0 && !o.dropped[name] {
		if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 0); err != nil {
			return -1, fmt.Errorf("tun device %s: %w", name, os.NewSyscallError("ioctl TUNSETPERSIST", err))
		}
		if o.dropped == nil {
			o.dropped = map[string]bool{}
		}
		o.dropped[name] = true
	}
	return fd, nil
}
