package mcast

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/internal/linux"
)

// Group is a multicast group joined on an interface of the namespace.
type Group struct {
	Ifindex int
	Dev     string
	Addr    netip.Addr
}

func (g Group) String() string { return g.Addr.String() + " on " + g.Dev }

// Groups are the groups of a network namespace, read at the first
// socket asked (by Refuse) and kept for the dump. Its zero value is
// ready.
type Groups struct {
	list []Group
	read bool
}

// Refuse fails with errdefs.ErrUnsupported, naming the group, if fd (a
// socket of family) has joined a group of the namespace, which netDo
// runs the reading of /proc/net/igmp and igmp6 in.
func (gs *Groups) Refuse(fd, family int, netDo func(func() error) error) error {
	if !gs.read {
		if err := netDo(func() error {
			var err error
			gs.list, err = List()
			return err
		}); err != nil {
			return err
		}
		gs.read = true
	}
	for _, g := range gs.list {
		if g.Addr.Is6() && family != unix.AF_INET6 {
			continue
		}
		member, err := Joined(fd, g)
		if err != nil {
			return fmt.Errorf("ask for multicast group %s: %w", g, err)
		}
		if member {
			return fmt.Errorf("%w: the socket joined multicast group %s, which the images cannot hold (CRIU 4.2 drops it)", errdefs.ErrUnsupported, g)
		}
	}
	return nil
}

// group_filter (include/uapi/linux/in.h) on x86_64 up to its source
// list: u32 gf_interface, 4 bytes of padding, sockaddr_storage
// gf_group, u32 gf_fmode, u32 gf_numsrc.
const (
	filterLen = 144
	groupOff  = 8
)

// Joined reports whether the socket fd is a member of g: getsockopt
// MCAST_MSFILTER (at IPPROTO_IP for an IPv4 group, also of an IPv6
// socket; IPPROTO_IPV6 for an IPv6 one) gives back the socket's filter
// for the group, and EADDRNOTAVAIL where it has none. A socket that
// cannot join groups at all (ENOPROTOOPT, EOPNOTSUPP: not UDP or raw;
// EINVAL: an IPv4 group asked of a raw IPv6 socket) has joined none.
func Joined(fd int, g Group) (bool, error) {
	b := make([]byte, filterLen)
	binary.NativeEndian.PutUint32(b, uint32(g.Ifindex))
	level := unix.IPPROTO_IP
	if g.Addr.Is4() {
		binary.NativeEndian.PutUint16(b[groupOff:], unix.AF_INET)
		a := g.Addr.As4()
		copy(b[groupOff+4:], a[:]) // sockaddr_in: family, port, address
	} else {
		level = unix.IPPROTO_IPV6
		binary.NativeEndian.PutUint16(b[groupOff:], unix.AF_INET6)
		a := g.Addr.As16()
		copy(b[groupOff+8:], a[:]) // sockaddr_in6: family, port, flowinfo, address
	}
	_, err := linux.GetsockoptInOut(fd, level, unix.MCAST_MSFILTER, b)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EADDRNOTAVAIL), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENOPROTOOPT),
		errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL):
		return false, nil
	}
	return false, err
}

// List reads the groups joined on the interfaces of the calling
// thread's network namespace. A kernel without IPv6 has no igmp6.
func List() ([]Group, error) {
	b, err := os.ReadFile("/proc/thread-self/net/igmp")
	if err != nil {
		return nil, err
	}
	out, err := parseIGMP(b)
	if err != nil {
		return nil, err
	}
	b, err = os.ReadFile("/proc/thread-self/net/igmp6")
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	six, err := parseIGMP6(b)
	return append(out, six...), err
}

func parseIGMP(b []byte) ([]Group, error) {
	var out []Group
	idx, dev := -1, ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		f := strings.Fields(l)
		switch {
		case n == 1 || len(f) == 0:
			continue // the header
		case l[0] != ' ' && l[0] != '\t':
			i, err := strconv.Atoi(f[0])
			if err != nil || len(f) < 2 {
				return nil, fmt.Errorf("/proc/net/igmp:%d: cannot parse %q", n, l)
			}
			idx, dev = i, strings.TrimSuffix(f[1], ":") // "cni-podman0:"
		default:
			w, err := strconv.ParseUint(f[0], 16, 32)
			if err != nil || idx < 0 {
				return nil, fmt.Errorf("/proc/net/igmp:%d: cannot parse %q", n, l)
			}
			var a [4]byte
			binary.NativeEndian.PutUint32(a[:], uint32(w))
			out = append(out, Group{Ifindex: idx, Dev: dev, Addr: netip.AddrFrom4(a)})
		}
	}
	return out, sc.Err()
}

func parseIGMP6(b []byte) ([]Group, error) {
	var out []Group
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		idx, err := strconv.Atoi(f[0])
		var a [16]byte
		if err != nil || len(f) < 3 || len(f[2]) != 32 {
			return nil, fmt.Errorf("/proc/net/igmp6:%d: cannot parse %q", n, sc.Text())
		}
		if _, err := hex.Decode(a[:], []byte(f[2])); err != nil {
			return nil, fmt.Errorf("/proc/net/igmp6:%d: cannot parse %q", n, sc.Text())
		}
		out = append(out, Group{Ifindex: idx, Dev: f[1], Addr: netip.AddrFrom16(a)})
	}
	return out, sc.Err()
}
