package netns

import (
	"encoding/binary"
	"fmt"
)

// Offsets in an `ip route save` stream (linux/netlink.h, rtnetlink.h).
const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	rtmsgLen    = 12 // struct rtmsg
	rtmTableOff = nlmsgHdrLen + 4
	rtaTable    = 15  // RTA_TABLE
	rtTableLoc  = 255 // RT_TABLE_LOCAL
	ipDumpMagic = 4   // the ip tool's u32 magic before the messages
)

func nlmsgAlign(n int) int { return (n + 3) &^ 3 }

// dropLocalTable returns the `ip route save` stream b without the routes
// of the local table. It checks every length against what is left.
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
			out = append(out, rest[:min(nlmsgAlign(n), len(rest))]...)
		}
		off += nlmsgAlign(n)
	}
	return out, nil
}

// routeTable is the table of one RTM_NEWROUTE message: RTA_TABLE if
// present, else rtm_table.
func routeTable(msg []byte) uint32 {
	table := uint32(msg[rtmTableOff])
	for a := msg[nlmsgHdrLen+rtmsgLen:]; len(a) >= 4; {
		l := int(binary.NativeEndian.Uint16(a))
		typ := binary.NativeEndian.Uint16(a[2:])
		if l < 4 || l > len(a) {
			break
		}
		if typ == rtaTable && l >= 8 {
			table = binary.NativeEndian.Uint32(a[4:])
		}
		a = a[min(nlmsgAlign(l), len(a)):]
	}
	return table
}
