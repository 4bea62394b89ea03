package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A device made outside before the restore and moved into the restored
// namespace in place of a veth (CRIU's --external netdev[IFNAME]:DEV):
// RestoreOptions.Veth holds it as movedPrefix + DEV, which no veth peer
// name can be (':' is not allowed in a device name).
const movedPrefix = "netdev:"

// iflaNewIfindex is IFLA_NEW_IFINDEX (linux/if_link.h): the index a
// device moved to another namespace gets there.
const iflaNewIfindex = 49

// movedDevice reports the outside device to move in for a link, from
// its RestoreOptions.Veth value.
func movedDevice(v string) (string, bool) { return strings.CutPrefix(v, movedPrefix) }

// moveDevice moves device dev of namespace from (criu's, or
// RestoreOptions.PeerNS) into namespace to, renamed to l.Name and given
// l's ifindex, MTU and link-layer address, in one RTM_NEWLINK, as
// CRIU's restore does for --external netdev: the addresses and routes
// restored afterwards name the link by its index.
func moveDevice(from, to *Namespace, dev string, l Link) error {
	if l.Index <= 0 {
		return fmt.Errorf("move %s in as %s: the image gives the link no ifindex: %w", dev, l.Name, ErrBadImage)
	}
	tf, err := to.file()
	if err != nil {
		return err
	}
	var attrs []byte
	attrs = appendAttr(attrs, unix.IFLA_NET_NS_FD, binary.NativeEndian.AppendUint32(nil, uint32(tf.Fd())))
	attrs = appendAttr(attrs, unix.IFLA_IFNAME, append([]byte(l.Name), 0))
	attrs = appendAttr(attrs, iflaNewIfindex, binary.NativeEndian.AppendUint32(nil, uint32(l.Index)))
	if l.MTU > 0 {
		attrs = appendAttr(attrs, unix.IFLA_MTU, binary.NativeEndian.AppendUint32(nil, uint32(l.MTU)))
	}
	if l.Address != "" {
		hw, err := net.ParseMAC(l.Address)
		if err != nil {
			return fmt.Errorf("link %s address %q: %v: %w", l.Name, l.Address, err, ErrBadImage)
		}
		attrs = appendAttr(attrs, unix.IFLA_ADDRESS, hw)
	}
	return from.do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return fmt.Errorf("device %s to move in as %s (--external netdev[%s]:%s): %w", dev, l.Name, l.Name, dev, err)
		}
		if err := setLink(ifi.Index, 0, attrs); err != nil {
			return fmt.Errorf("move device %s into the namespace as %s (index %d): %w", dev, l.Name, l.Index, err)
		}
		return nil
	})
}

// ProbeNewIfindex tells whether the kernel takes IFLA_NEW_IFINDEX: asked
// to move a device that does not exist to index -1, it answers ERANGE
// for the index when it reads the attribute, ENODEV when it does not.
func ProbeNewIfindex() error {
	var attrs []byte
	attrs = appendAttr(attrs, unix.IFLA_IFNAME, []byte("criu-kdat\x00"))
	attrs = appendAttr(attrs, iflaNewIfindex, binary.NativeEndian.AppendUint32(nil, ^uint32(0)))
	switch err := setLink(0, unix.NLM_F_CREATE, attrs); {
	case errors.Is(err, unix.ERANGE):
		return nil
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("the kernel ignores IFLA_NEW_IFINDEX")
	default:
		return fmt.Errorf("probe IFLA_NEW_IFINDEX: %v", err)
	}
}

// appendAttr appends one rtnetlink attribute, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, v []byte) []byte {
	n := unix.SizeofRtAttr + len(v)
	b = binary.NativeEndian.AppendUint16(b, uint16(n))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	return append(b, make([]byte, nlmsgAlign(n)-n)...)
}

// setLink sends one RTM_NEWLINK for link index (0: by IFLA_IFNAME) with
// attrs from a socket of the calling thread's namespace, and returns the
// kernel's answer.
func setLink(index int, flags uint16, attrs []byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return os.NewSyscallError("socket netlink", err)
	}
	defer unix.Close(fd)
	msg := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg+len(attrs))
	msg = append(msg, attrs...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWLINK)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence
	// struct ifinfomsg: family, pad, type, index, flags, change.
	binary.NativeEndian.PutUint32(msg[unix.SizeofNlMsghdr+4:], uint32(int32(index)))
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("sendto netlink", err)
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return os.NewSyscallError("recvfrom netlink", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink answer: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
				return unix.Errno(-e)
			}
			return nil
		}
	}
}
