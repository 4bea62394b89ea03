package netns

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/nsenter"
	"github.com/criugo/criu/proto/images"
)

// rtLink is one link as rtnetlink reports it (RTM_NEWLINK).
type rtLink struct {
	index   uint32
	arphrd  uint16 // ifi_type
	flags   uint32 // IFF_*
	name    string
	mtu     uint32
	address []byte
	link    *uint32 // IFLA_LINK: the peer's ifindex
	netnsid *int32  // IFLA_LINK_NETNSID: set when the peer is in another netns
	master  *uint32
	kind    string // IFLA_INFO_KIND
	data    []byte // IFLA_INFO_DATA, the kind's attributes
}

// Attributes of RTM_NEWLINK missing from x/sys/unix.
const iflaLinkNetnsid = 37

// do runs fn on a thread inside namespace n.
func (n *Namespace) do(fn func() error) error {
	f, err := n.file()
	if err != nil {
		return err
	}
	return nsenter.DoFD(int(f.Fd()), nsenter.Net, fn)
}

// rtLinks lists the links of namespace n through rtnetlink, from a
// socket made inside it.
func (n *Namespace) rtLinks() ([]rtLink, error) {
	var tab []byte
	err := n.do(func() error {
		var err error
		tab, err = syscall.NetlinkRIB(unix.RTM_GETLINK, unix.AF_UNSPEC)
		return os.NewSyscallError("netlink RTM_GETLINK", err)
	})
	if err != nil {
		return nil, err
	}
	return parseRTLinks(tab)
}

// parseRTLinks decodes the RTM_NEWLINK messages of a link dump.
func parseRTLinks(tab []byte) ([]rtLink, error) {
	msgs, err := syscall.ParseNetlinkMessage(tab)
	if err != nil {
		return nil, fmt.Errorf("parse netlink link dump: %w", err)
	}
	var out []rtLink
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWLINK {
			continue
		}
		if len(m.Data) < unix.SizeofIfInfomsg {
			return nil, fmt.Errorf("parse netlink link dump: short ifinfomsg (%d bytes)", len(m.Data))
		}
		l := rtLink{
			arphrd: binary.NativeEndian.Uint16(m.Data[2:]),
			index:  binary.NativeEndian.Uint32(m.Data[4:]),
			flags:  binary.NativeEndian.Uint32(m.Data[8:]),
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, fmt.Errorf("parse netlink link %d: %w", l.index, err)
		}
		for _, a := range attrs {
			v := a.Value
			switch a.Attr.Type {
			case unix.IFLA_IFNAME:
				l.name = unix.ByteSliceToString(v)
			case unix.IFLA_MTU:
				if len(v) >= 4 {
					l.mtu = binary.NativeEndian.Uint32(v)
				}
			case unix.IFLA_ADDRESS:
				l.address = append([]byte(nil), v...)
			case unix.IFLA_LINK:
				if len(v) >= 4 {
					x := binary.NativeEndian.Uint32(v)
					l.link = &x
				}
			case iflaLinkNetnsid:
				if len(v) >= 4 {
					x := int32(binary.NativeEndian.Uint32(v))
					l.netnsid = &x
				}
			case unix.IFLA_MASTER:
				if len(v) >= 4 {
					x := binary.NativeEndian.Uint32(v)
					l.master = &x
				}
			case unix.IFLA_LINKINFO:
				l.kind, l.data = linkInfo(v)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// linkInfo returns IFLA_INFO_KIND and IFLA_INFO_DATA from the nested
// attributes of IFLA_LINKINFO.
func linkInfo(b []byte) (kind string, data []byte) {
	eachAttr(b, func(typ uint16, v []byte) {
		switch typ {
		case unix.IFLA_INFO_KIND:
			kind = unix.ByteSliceToString(v)
		case unix.IFLA_INFO_DATA:
			data = append([]byte(nil), v...)
		}
	})
	return kind, data
}

// eachAttr calls fn with the type and value of each netlink attribute
// in b (a struct rtattr: u16 length, u16 type, then its value, aligned
// to 4), up to the first one whose length is out of bounds.
func eachAttr(b []byte, fn func(typ uint16, v []byte)) {
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b))
		if n < unix.SizeofRtAttr || n > len(b) {
			return
		}
		fn(binary.NativeEndian.Uint16(b[2:]), b[unix.SizeofRtAttr:n])
		b = b[min((n+3)&^3, len(b)):]
	}
}

// netDevice describes link l of namespace id as CRIU does in
// netdev-N.img. lo is LOOPBACK; a veth is VETH with its peer's ifindex,
// and the peer's namespace when that is this one (a peer outside is in
// a namespace the images do not hold); a dummy link, which CRIU only
// knows through plugins, is EXTLINK.
func netDevice(l rtLink, id uint32, tunSet *TunSettings) (*images.NetDeviceEntry, error) {
	e := &images.NetDeviceEntry{
		Ifindex: proto.Uint32(l.index),
		Mtu:     proto.Uint32(l.mtu),
		Flags:   proto.Uint32(l.flags),
		Name:    proto.String(l.name),
	}
	switch {
	case l.arphrd == unix.ARPHRD_LOOPBACK:
		e.Type = images.NdType_LOOPBACK.Enum()
		return e, nil
	case l.kind == KindVeth:
		e.Type = images.NdType_VETH.Enum()
	case l.kind == KindDummy:
		e.Type = images.NdType_EXTLINK.Enum()
	case l.kind == KindBridge:
		e.Type = images.NdType_BRIDGE.Enum()
	case l.kind == KindTun && tunSet != nil:
		e.Type = images.NdType_TUN.Enum()
		e.Tun = tunSet.entry()
	case l.kind == KindMacvlan:
		e.Type = images.NdType_MACVLAN.Enum()
		m, err := macvlanEntry(l.name, l.data)
		if err != nil {
			return nil, err
		}
		e.Macvlan = m
	default:
		return nil, fmt.Errorf("link %s (type %d kind %q): %w", l.name, l.arphrd, l.kind, ErrUnsupportedLink)
	}
	if l.address != nil {
		e.Address = l.address
	}
	if l.master != nil {
		e.Master = proto.Uint32(*l.master)
	}
	if l.kind == KindBridge || l.kind == KindMacvlan || l.kind == KindTun {
		return e, nil
	}
	peer := l.index
	if l.link != nil {
		peer = *l.link
	}
	e.PeerIfindex = proto.Uint32(peer)
	if l.netnsid == nil {
		e.PeerNsid = proto.Uint32(id)
	}
	return e, nil
}
