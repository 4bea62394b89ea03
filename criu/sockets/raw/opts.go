package raw

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// DumpOpts reads the options of CRIU's ip_opts_raw_entry from the raw
// socket fd of family and protocol: hdrincl and nodefrag set only when
// on (as CRIU writes them), the ICMP or ICMPv6 filter of such a socket.
func DumpOpts(fd, family, protocol int) (*images.IpOptsRawEntry, error) {
	r := &images.IpOptsRawEntry{}
	geti := func(name string, level, opt int) (bool, error) {
		v, err := unix.GetsockoptInt(fd, level, opt)
		if err != nil {
			return false, fmt.Errorf("getsockopt(%s): %w", name, err)
		}
		return v != 0, nil
	}
	if family == unix.AF_INET6 {
		on, err := geti("IPV6_HDRINCL", unix.IPPROTO_IPV6, unix.IPV6_HDRINCL)
		if err != nil {
			return nil, err
		}
		if on {
			r.Hdrincl = proto.Bool(true)
		}
		if protocol == unix.IPPROTO_ICMPV6 {
			f, err := unix.GetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER)
			if err != nil {
				return nil, fmt.Errorf("getsockopt(ICMPV6_FILTER): %w", err)
			}
			r.IcmpvFilter = append([]uint32{}, f.Data[:]...)
		}
		return r, nil
	}
	on, err := geti("IP_HDRINCL", unix.IPPROTO_IP, unix.IP_HDRINCL)
	if err != nil {
		return nil, err
	}
	if on {
		r.Hdrincl = proto.Bool(true)
	}
	if on, err = geti("IP_NODEFRAG", unix.IPPROTO_IP, unix.IP_NODEFRAG); err != nil {
		return nil, err
	}
	if on {
		r.Nodefrag = proto.Bool(true)
	}
	if protocol == unix.IPPROTO_ICMP {
		v, err := unix.GetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER)
		if err != nil {
			return nil, fmt.Errorf("getsockopt(ICMP_FILTER): %w", err)
		}
		r.IcmpvFilter = []uint32{uint32(v)}
	}
	return r, nil
}

// SetOpts sets on the new raw socket fd the options r holds (nil: none).
func SetOpts(fd, family, protocol int, r *images.IpOptsRawEntry) error {
	if r == nil {
		return nil
	}
	seti := func(name string, level, opt int) error {
		if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
			return os.NewSyscallError("setsockopt("+name+")", err)
		}
		return nil
	}
	f := r.GetIcmpvFilter()
	if family == unix.AF_INET6 {
		if r.GetHdrincl() {
			if err := seti("IPV6_HDRINCL", unix.IPPROTO_IPV6, unix.IPV6_HDRINCL); err != nil {
				return err
			}
		}
		if len(f) > 0 && protocol == unix.IPPROTO_ICMPV6 {
			var flt unix.ICMPv6Filter
			if len(f) != len(flt.Data) {
				return fmt.Errorf("%w: an ICMPv6 filter of %d words", errdefs.ErrBadImage, len(f))
			}
			copy(flt.Data[:], f)
			if err := unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &flt); err != nil {
				return os.NewSyscallError("setsockopt(ICMPV6_FILTER)", err)
			}
		}
		return nil
	}
	if r.GetHdrincl() {
		if err := seti("IP_HDRINCL", unix.IPPROTO_IP, unix.IP_HDRINCL); err != nil {
			return err
		}
	}
	if r.GetNodefrag() {
		if err := seti("IP_NODEFRAG", unix.IPPROTO_IP, unix.IP_NODEFRAG); err != nil {
			return err
		}
	}
	if len(f) > 0 && protocol == unix.IPPROTO_ICMP {
		if len(f) != 1 {
			return fmt.Errorf("%w: an ICMP filter of %d words", errdefs.ErrBadImage, len(f))
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_RAW, unix.ICMP_FILTER, int(int32(f[0]))); err != nil {
			return os.NewSyscallError("setsockopt(ICMP_FILTER)", err)
		}
	}
	return nil
}
