package netlock

import (
	"context"
	"net/netip"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/proto/images"
)

// ConnsOf is the TCP connections of the inet sockets of the images
// (every socket with a peer port, as CRIU 4.2's tcp_connection: closed
// ones too, which it locks at dump and restores through TCP repair), as
// the images address them.
func ConnsOf(isks []*images.InetSkEntry) []Conn {
	var conns []Conn
	for _, e := range isks {
		if e.GetProto() != 6 || e.GetType() == 3 || e.GetState() == 10 || e.GetDstPort() == 0 { // IPPROTO_TCP, not SOCK_RAW; not TCP_LISTEN; a peer
			continue
		}
		if len(e.GetSrcAddr()) == 0 || len(e.GetDstAddr()) == 0 {
			continue // no connection
		}
		src, ok1 := image.InetAddr(e.GetFamily(), e.GetSrcAddr())
		dst, ok2 := image.InetAddr(e.GetFamily(), e.GetDstAddr())
		if ok1 && ok2 {
			conns = append(conns, Conn{
				Local:  netip.AddrPortFrom(src, uint16(e.GetSrcPort())),
				Remote: netip.AddrPortFrom(dst, uint16(e.GetDstPort())),
			}.unmapped())
		}
	}
	return conns
}

// ConnsOfFiles is ConnsOf the inet sockets among files (files.img's
// entries by id).
func ConnsOfFiles(files map[uint32]*images.FileEntry) []Conn {
	var isks []*images.InetSkEntry
	for _, f := range files {
		if f.GetIsk() != nil {
			isks = append(isks, f.GetIsk())
		}
	}
	return ConnsOf(isks)
}

// LockRestore locks conns, the connections a host-flavor restore of
// the dump of run id is about to make, when the dump's own lock
// (LockConns, kept for the restore) is not in this network namespace:
// the dump ran on another host, or in another namespace of this one.
// Without it, a restored end whose peer is not restored yet, or a
// client's retransmission, meets no socket and is reset. The lock has
// a record of its own (a crash of this criu leaves it to Sweep); the
// restore lifts it with Unlock once its tasks run, or when it fails.
// Nil, with nothing to lock, or when the dump's lock is here.
func LockRestore(ctx context.Context, m Method, id string, conns []Conn, log zerolog.Logger) (*Lock, error) {
	if m == Skip || id == "" || len(conns) == 0 {
		return nil, nil
	}
	dumped := record{ID: id}
	if r, err := readRecord(dumped.path()); err == nil && r.NS == nil && !r.elsewhere() {
		return nil, nil // the dump's lock holds them here
	}
	return lock(ctx, m, "rst-"+id, nil, conns, log)
}
