package sockets

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestInetAddr(t *testing.T) {
	w, port := inetAddr(&unix.SockaddrInet4{Port: 80, Addr: [4]byte{127, 0, 0, 1}})
	if len(w) != 1 || w[0] != 0x0100007f || port != 80 {
		t.Errorf("IPv4: %#x %d", w, port)
	}
	w, _ = inetAddr(&unix.SockaddrInet6{Addr: [16]byte{15: 1}})
	if len(w) != 4 || w[3] != 0x01000000 {
		t.Errorf("IPv6: %#x", w)
	}
}
