package raw

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/sockets/sockdiag"
)

// inet_diag request and reply layout (include/uapi/linux/inet_diag.h):
// a raw request is an inet_diag_req_v2 with protocol IPPROTO_RAW, its
// pad byte the raw protocol (inet_diag_req_raw), which a dump does not
// filter on.
const (
	reqLen   = 56 // struct inet_diag_req_v2
	msgLen   = 72 // struct inet_diag_msg
	shutAttr = 8  // INET_DIAG_SHUTDOWN, sent with every reply
)

// Diag is what raw sock_diag tells of one raw socket.
type Diag struct {
	Ino   uint32
	State uint8
	// Src, Dst are the bound and connected addresses, 4 bytes (IPv4)
	// or 16 (IPv6).
	Src, Dst []byte
	Shutdown uint8
}

// List asks raw sock_diag for every raw socket of family (AF_INET,
// AF_INET6) of the calling thread's network namespace, by inode. A
// kernel without raw_diag fails with ENOENT.
func List(family int) (map[uint32]*Diag, error) {
	le := binary.LittleEndian
	req := make([]byte, reqLen)
	req[0], req[1], req[3] = byte(family), unix.IPPROTO_RAW, unix.IPPROTO_RAW
	le.PutUint32(req[4:], ^uint32(0))  // every state
	le.PutUint32(req[48:], ^uint32(0)) // no cookie
	le.PutUint32(req[52:], ^uint32(0))
	alen := 4
	if family == unix.AF_INET6 {
		alen = 16
	}
	out := map[uint32]*Diag{}
	err := sockdiag.Dump(req, func(m []byte) error {
		if len(m) < msgLen {
			return fmt.Errorf("sock_diag: short inet_diag_msg (%d bytes)", len(m))
		}
		if int(m[0]) != family {
			return nil
		}
		d := &Diag{Ino: le.Uint32(m[68:]), State: m[1], Src: append([]byte{}, m[8:8+alen]...), Dst: append([]byte{}, m[24:24+alen]...)}
		err := sockdiag.Attrs(m[msgLen:], func(typ uint16, v []byte) {
			if typ == shutAttr && len(v) > 0 {
				d.Shutdown = v[0]
			}
		})
		if err != nil {
			return err
		}
		out[d.Ino] = d
		return nil
	})
	return out, err
}

// Probe reports whether raw sock_diag answers for both families here
// (CRIU's net_diag_raw): an error naming the family that does not.
func Probe() error {
	for _, f := range []struct {
		family int
		name   string
	}{{unix.AF_INET, "IPv4"}, {unix.AF_INET6, "IPv6"}} {
		if _, err := List(f.family); errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("no %s raw sock_diag (CONFIG_INET_RAW_DIAG): raw sockets are read from /proc/net/raw, without their shutdown for writing", f.name)
		} else if err != nil {
			return fmt.Errorf("%s raw sock_diag: %w", f.name, err)
		}
	}
	return nil
}
