package raw

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ListProc reads the raw sockets of family (AF_INET, AF_INET6) from
// /proc/thread-self/net/raw (raw6), those of the calling thread's
// network namespace, by inode: what raw sock_diag gives but the
// shutdown bits, for a kernel without raw_diag. Each address there is
// its 1 or 4 u32 words, in hex, as the kernel holds them (network-order
// bytes read in host order).
func ListProc(family int) (map[uint32]*Diag, error) { return listProc("raw", family) }

// ListPing reads the ICMP "ping" sockets (SOCK_DGRAM, IPPROTO_ICMP or
// IPPROTO_ICMPV6) of family from /proc/thread-self/net/icmp (icmp6),
// which have the layout of the raw ones and no sock_diag at all: a ping
// socket connected to a port 0 (its usual peer: echo requests have no
// port) is connected all the same, which getpeername does not show.
func ListPing(family int) (map[uint32]*Diag, error) { return listProc("icmp", family) }

func listProc(file string, family int) (map[uint32]*Diag, error) {
	name := "/proc/thread-self/net/" + file
	if family == unix.AF_INET6 {
		name += "6"
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return parseProc(name, b)
}

func parseProc(name string, b []byte) (map[uint32]*Diag, error) {
	out := map[uint32]*Diag{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 1 {
			continue // the header
		}
		if len(f) < 10 {
			return nil, fmt.Errorf("%s:%d: %d fields", name, n, len(f))
		}
		src, err1 := procAddr(f[1])
		dst, err2 := procAddr(f[2])
		st, err3 := strconv.ParseUint(f[3], 16, 8)
		ino, err4 := strconv.ParseUint(f[9], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(src) != len(dst) {
			return nil, fmt.Errorf("%s:%d: cannot parse %q", name, n, sc.Text())
		}
		out[uint32(ino)] = &Diag{Ino: uint32(ino), State: uint8(st), Src: src, Dst: dst}
	}
	return out, sc.Err()
}

// procAddr parses ADDR:PORT of /proc/net/raw into the address bytes.
func procAddr(s string) ([]byte, error) {
	a, _, ok := strings.Cut(s, ":")
	if !ok || (len(a) != 8 && len(a) != 32) {
		return nil, fmt.Errorf("address %q", s)
	}
	out := make([]byte, 0, len(a)/2)
	for i := 0; i < len(a); i += 8 {
		w, err := strconv.ParseUint(a[i:i+8], 16, 32)
		if err != nil {
			return nil, err
		}
		out = binary.NativeEndian.AppendUint32(out, uint32(w))
	}
	return out, nil
}
