package netns

import (
	"encoding/binary"
	"fmt"
)

// Offsets in an `ip route save` stream (linux/netlink.h, rtnetlink.h).
const (
	nlmsgHdrLen  = 16 // struct nlmsghdr
	rtmsgLen     = 12 // struct rtmsg
	rtmTableOff  = nlmsgHdrLen + 4
	rtmFlagsOff  = nlmsgHdrLen + 8
	rtaTable     = 15 // RTA_TABLE
	rtaMultipath = 9  // RTA_MULTIPATH: struct rtnexthop, each with its flags
	// RTNH_F_DEAD | RTNH_F_LINKDOWN: the state of a nexthop's link, which
	// the kernel reports but refuses in a route being added.
	nhStateFlags = 1 | 16
	rtTableLoc   = 255 // RT_TABLE_LOCAL
	ipDumpMagic  = 4   // the ip tool's u32 magic before the messages
)

func nlmsgAlign(n int) int { return (n + 3) &^ 3 }

// dropLocalTable returns the `ip route save` stream b without the routes
// of the local table, and with the link state flags (dead, linkdown)
// cleared from every route and nexthop: a route through a link without
// carrier at dump time carries them, and `ip route restore` would fail
// on it. It checks every length against what is left.
func dropLocalTable(b []byte) ([]byte, error) {
	if len(b) < ipDumpMagic {
		return nil, fmt.Errorf("route dump of %d bytes: %w", len(b), ErrBadImage)
	}
	out := append([]byte(nil), b[:ipDumpMagic]...)
	for off := ipDumpMagic; off < len(b); {
		rest := b[off:]
		if len(rest) < nlmsgHdrLen {
			return nil, fmt.Errorf("route dump: short header at offset %d: %w", off, ErrBadImage)
		}
		n := int(binary.NativeEndian.Uint32(rest))
		if n < nlmsgHdrLen+rtmsgLen || n > len(rest) {
			return nil, fmt.Errorf("route dump: message length %d at offset %d: %w", n, off, ErrBadImage)
		}
		msg := rest[:n]
		if routeTable(msg) != rtTableLoc {
			start := len(out)
			out = append(out, rest[:min(nlmsgAlign(n), len(rest))]...)
			clearLinkState(out[start : start+n])
		}
		off += nlmsgAlign(n)
	}
	return out, nil
}

// routeTable is the table of one RTM_NEWROUTE message: RTA_TABLE if
// present, else rtm_table.
func routeTable(msg []byte) uint32 {
	table := uint32(msg[rtmTableOff])
	eachAttr(msg[nlmsgHdrLen+rtmsgLen:], func(typ uint16, v []byte) {
		if typ == rtaTable && len(v) >= 4 {
			table = binary.NativeEndian.Uint32(v)
		}
	})
	return table
}

// clearLinkState clears the link state flags of one RTM_NEWROUTE message
// in place: rtm_flags, and rtnh_flags of each nexthop of RTA_MULTIPATH.
func clearLinkState(msg []byte) {
	f := binary.NativeEndian.Uint32(msg[rtmFlagsOff:])
	binary.NativeEndian.PutUint32(msg[rtmFlagsOff:], f&^nhStateFlags)
	// The attributes are slices of msg: changed in place.
	eachAttr(msg[nlmsgHdrLen+rtmsgLen:], func(typ uint16, v []byte) {
		if typ != rtaMultipath {
			return
		}
		// struct rtnexthop: u16 len, u8 flags, u8 hops, int ifindex.
		for nh := v; len(nh) >= 8; {
			nl := int(binary.NativeEndian.Uint16(nh))
			if nl < 8 || nl > len(nh) {
				break
			}
			nh[2] &^= nhStateFlags
			nh = nh[min(nlmsgAlign(nl), len(nh)):]
		}
	})
}
