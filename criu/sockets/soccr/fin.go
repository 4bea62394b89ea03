package soccr

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/internal/linux"
	"github.com/criugo/criu/proto/images"
)

// Mark is the SO_MARK of the packets soccr sends to a socket in repair
// mode (CRIU's SOCCR_MARK, netlock.Mark): the network lock lets them
// through.
const Mark = 0xC114

// TCP header flags (RFC 9293).
const (
	tcpFIN = 0x01
	tcpACK = 0x10
)

// The FINs of a half-closed connection (libsoccr's masks): ours is in
// the send queue (sent, and acked in FIN_WAIT2), the peer's in the
// receive queue (always acked: we received it).
//
//	state       our FIN      peer's FIN
//	FIN_WAIT1   sent         -
//	FIN_WAIT2   acked        -
//	CLOSING     sent         received (after ours was sent)
//	CLOSE_WAIT  -            received
//	LAST_ACK    sent         received (before ours was sent)
//	CLOSE       acked        received (made so; after a reset: neither)
func ourFIN(state uint32) bool {
	switch state {
	case StateFinWait1, StateFinWait2, StateClosing, StateLastAck, StateClose:
		return true
	}
	return false
}

func peerFIN(state uint32) bool {
	switch state {
	case StateCloseWait, StateLastAck, StateClosing, StateClose:
		return true
	}
	return false
}

// segment builds an IPv4 or IPv6 packet holding a TCP segment with no
// options and no data, from src to dst (both of one family; IPv4-mapped
// IPv6 addresses make an IPv4 packet), its checksums computed.
func segment(src, dst netip.AddrPort, seq, ack uint32, flags uint8, win uint16) []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4 // data offset: 5 words
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], win)
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	var ip, pseudo []byte
	if s.Is4() {
		ip = make([]byte, 20)
		ip[0] = 0x45 // version 4, 5 words
		binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+len(tcp)))
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, unix.IPPROTO_TCP
		a4, b4 := s.As4(), d.As4()
		copy(ip[12:], a4[:])
		copy(ip[16:], b4[:])
		binary.BigEndian.PutUint16(ip[10:], checksum(0, ip))
		pseudo = append(append(a4[:], b4[:]...), 0, unix.IPPROTO_TCP, 0, byte(len(tcp)))
	} else {
		ip = make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(tcp)))
		ip[6], ip[7] = unix.IPPROTO_TCP, 64
		a16, b16 := s.As16(), d.As16()
		copy(ip[8:], a16[:])
		copy(ip[24:], b16[:])
		pseudo = append(append(a16[:], b16[:]...), 0, 0, 0, byte(len(tcp)), 0, 0, 0, unix.IPPROTO_TCP)
	}
	binary.BigEndian.PutUint16(tcp[16:], checksum(sum(0, pseudo), tcp))
	return append(ip, tcp...)
}

// sum adds b to the ones' complement sum acc (RFC 1071).
func sum(acc uint32, b []byte) uint32 {
	for ; len(b) >= 2; b = b[2:] {
		acc += uint32(binary.BigEndian.Uint16(b))
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

// checksum is the Internet checksum of b, acc being the sum of what
// precedes it (a pseudo header).
func checksum(acc uint32, b []byte) uint16 {
	acc = sum(acc, b)
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// sendPeer sends to the socket of the connection from src to dst a
// segment from its peer (dst): sequence number seq, acknowledging ack.
// The window is the one the peer last advertised (e's snd_wnd, scaled
// down), so that the segment leaves it as it is.
func sendPeer(e *images.TcpStreamEntry, src, dst netip.AddrPort, seq, ack uint32, flags uint8) error {
	win := e.GetSndWnd()
	if e.GetOptMask()&linux.TCPIOptWscale != 0 {
		win >>= e.GetSndWscale()
	}
	pkt := segment(dst, src, seq, ack, flags, uint16(min(win, 0xffff)))
	if err := linux.SendRawIP(src.Addr().Unmap(), pkt, Mark); err != nil {
		return fmt.Errorf("segment from the peer %s: %w", dst, err)
	}
	return nil
}

// waitState waits until fd's connection is in state (the segment
// sendPeer sent is processed as it is sent, over loopback: this is a
// check).
func waitState(fd int, state uint32) error {
	deadline := time.Now().Add(time.Second)
	for {
		ti, err := linux.GetTCPInfoHead(fd)
		if err != nil {
			return err
		}
		if uint32(ti.State) == state {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the connection is %s, not %s, after the peer's segment", StateName(uint32(ti.State)), StateName(state))
		}
		time.Sleep(time.Millisecond)
	}
}
