package image

import (
	"encoding/binary"
	"net/netip"
)

// InetAddr is an address of CRIU's inet_sk_entry (src_addr, dst_addr):
// its network-order bytes read as little-endian 32-bit words, one for
// AF_INET (2), four for AF_INET6 (10); no word at all is the family's
// zero address. ok is false for any other family or length.
func InetAddr(family uint32, words []uint32) (a netip.Addr, ok bool) {
	var b [16]byte
	for i, w := range words {
		if i >= 4 {
			break
		}
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	switch {
	case family == 2 && len(words) <= 1:
		return netip.AddrFrom4([4]byte(b[:4])), true
	case family == 10 && (len(words) == 4 || len(words) == 0):
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
