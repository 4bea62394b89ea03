package sockets

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// Socket options not in x/sys/unix.
const (
	soBufLock    = 72 // SO_BUF_LOCK (Linux 5.14)
	ipv6Freebind = 78 // IPV6_FREEBIND (Linux 4.15)
)

// dumpSkOpts reads the SOL_SOCKET options of sk_opts_entry from fd, a
// copy of the task's socket. Buffer sizes are stored as getsockopt
// returns them (twice what was set), as CRIU stores them.
func dumpSkOpts(fd int) (*images.SkOptsEntry, error) {
	var errs []error
	geti := func(name string, opt int) int {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
		// Some options exist for some families only (SO_PASSCRED: UNIX
		// and netlink): those read as unset.
		if err != nil && err != unix.EOPNOTSUPP && err != unix.ENOPROTOOPT {
			errs = append(errs, os.NewSyscallError("getsockopt("+name+")", err))
		}
		return v
	}
	tmo := func(name string, opt int) (uint64, uint64) {
		tv, err := unix.GetsockoptTimeval(fd, unix.SOL_SOCKET, opt)
		if err != nil {
			errs = append(errs, os.NewSyscallError("getsockopt("+name+")", err))
			return 0, 0
		}
		return uint64(tv.Sec), uint64(tv.Usec)
	}
	o := &images.SkOptsEntry{
		SoSndbuf: proto.Uint32(uint32(geti("SO_SNDBUF", unix.SO_SNDBUF))),
		SoRcvbuf: proto.Uint32(uint32(geti("SO_RCVBUF", unix.SO_RCVBUF))),
	}
	s, us := tmo("SO_SNDTIMEO", unix.SO_SNDTIMEO)
	o.SoSndTmoSec, o.SoSndTmoUsec = proto.Uint64(s), proto.Uint64(us)
	s, us = tmo("SO_RCVTIMEO", unix.SO_RCVTIMEO)
	o.SoRcvTmoSec, o.SoRcvTmoUsec = proto.Uint64(s), proto.Uint64(us)
	o.Reuseaddr = proto.Bool(geti("SO_REUSEADDR", unix.SO_REUSEADDR) != 0)
	o.SoReuseport = proto.Bool(geti("SO_REUSEPORT", unix.SO_REUSEPORT) != 0)
	o.SoPriority = proto.Uint32(uint32(geti("SO_PRIORITY", unix.SO_PRIORITY)))
	o.SoRcvlowat = proto.Uint32(uint32(geti("SO_RCVLOWAT", unix.SO_RCVLOWAT)))
	o.SoMark = proto.Uint32(uint32(geti("SO_MARK", unix.SO_MARK)))
	o.SoPasscred = proto.Bool(geti("SO_PASSCRED", unix.SO_PASSCRED) != 0)
	o.SoBroadcast = proto.Bool(geti("SO_BROADCAST", unix.SO_BROADCAST) != 0)
	o.SoKeepalive = proto.Bool(geti("SO_KEEPALIVE", unix.SO_KEEPALIVE) != 0)
	o.SoDontroute = proto.Bool(geti("SO_DONTROUTE", unix.SO_DONTROUTE) != 0)
	o.SoOobinline = proto.Uint32(uint32(geti("SO_OOBINLINE", unix.SO_OOBINLINE)))
	o.SoPasssec = proto.Bool(geti("SO_PASSSEC", unix.SO_PASSSEC) != 0)
	o.SoNoCheck = proto.Bool(geti("SO_NO_CHECK", unix.SO_NO_CHECK) != 0)
	// A classic BPF filter, each instruction as CRIU packs it: code<<48 |
	// jt<<40 | jf<<32 | k.
	if f, err := socketFilter(fd); errors.Is(err, unix.EACCES) {
		// SO_GET_FILTER gives back classic programs only: what is
		// attached is an eBPF program (SO_ATTACH_BPF).
		errs = append(errs, fmt.Errorf("%w: an eBPF socket filter (SO_ATTACH_BPF) is attached, whose program cannot be read back", errdefs.ErrUnsupported))
	} else if err != nil {
		errs = append(errs, err)
	} else {
		for _, in := range f {
			o.SoFilter = append(o.SoFilter, uint64(in.Code)<<48|uint64(in.Jt)<<40|uint64(in.Jf)<<32|uint64(in.K))
		}
	}
	if l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil {
		errs = append(errs, os.NewSyscallError("getsockopt(SO_LINGER)", err))
	} else if l.Onoff != 0 {
		o.SoLinger = proto.Uint32(uint32(l.Linger))
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, soBufLock); err == nil {
		o.SoBufLock = proto.Uint32(uint32(v))
	}
	if dev, err := unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err == nil && dev != "" {
		o.SoBoundDev = proto.String(dev)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// setSkOpts sets the SOL_SOCKET options of o on fd. Buffer sizes were
// saved as getsockopt reports them, twice the size set.
func setSkOpts(fd int, o *images.SkOptsEntry) error {
	if o == nil {
		return nil
	}
	var errs []error
	seti := func(name string, level, opt, v int) {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt("+name+")", err))
		}
	}
	// A size not locked (SO_BUF_LOCK: SOCK_SNDBUF_LOCK 1, SOCK_RCVBUF_LOCK
	// 2) that a new socket has already is not forced, which would lock
	// it: an MPTCP socket cannot be unlocked again (no SO_BUF_LOCK).
	buf := func(name string, opt, getopt int, v, bit uint32) {
		if o.SoBufLock != nil && o.GetSoBufLock()&bit == 0 {
			if cur, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, getopt); err == nil && uint32(cur) == v {
				return
			}
		}
		seti(name, unix.SOL_SOCKET, opt, int(v/2))
	}
	buf("SO_SNDBUFFORCE", unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, o.GetSoSndbuf(), 1)
	buf("SO_RCVBUFFORCE", unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, o.GetSoRcvbuf(), 2)
	if o.SoBufLock != nil {
		if cur, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, soBufLock); err != nil || uint32(cur) != o.GetSoBufLock() {
			seti("SO_BUF_LOCK", unix.SOL_SOCKET, soBufLock, int(o.GetSoBufLock()))
		}
	}
	tv := func(name string, opt int, sec, usec uint64) {
		if sec == 0 && usec == 0 {
			return
		}
		t := unix.Timeval{Sec: int64(sec), Usec: int64(usec)}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, opt, &t); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt("+name+")", err))
		}
	}
	tv("SO_SNDTIMEO", unix.SO_SNDTIMEO, o.GetSoSndTmoSec(), o.GetSoSndTmoUsec())
	tv("SO_RCVTIMEO", unix.SO_RCVTIMEO, o.GetSoRcvTmoSec(), o.GetSoRcvTmoUsec())
	flag := func(name string, opt int, on bool) {
		if on {
			seti(name, unix.SOL_SOCKET, opt, 1)
		}
	}
	flag("SO_REUSEADDR", unix.SO_REUSEADDR, o.GetReuseaddr())
	flag("SO_REUSEPORT", unix.SO_REUSEPORT, o.GetSoReuseport())
	flag("SO_PASSCRED", unix.SO_PASSCRED, o.GetSoPasscred())
	flag("SO_BROADCAST", unix.SO_BROADCAST, o.GetSoBroadcast())
	flag("SO_KEEPALIVE", unix.SO_KEEPALIVE, o.GetSoKeepalive())
	flag("SO_DONTROUTE", unix.SO_DONTROUTE, o.GetSoDontroute())
	flag("SO_OOBINLINE", unix.SO_OOBINLINE, o.GetSoOobinline() != 0)
	flag("SO_PASSSEC", unix.SO_PASSSEC, o.GetSoPasssec())
	flag("SO_NO_CHECK", unix.SO_NO_CHECK, o.GetSoNoCheck())
	if v := o.GetSoPriority(); v != 0 {
		seti("SO_PRIORITY", unix.SOL_SOCKET, unix.SO_PRIORITY, int(v))
	}
	if v := o.GetSoRcvlowat(); v > 1 {
		seti("SO_RCVLOWAT", unix.SOL_SOCKET, unix.SO_RCVLOWAT, int(v))
	}
	if v := o.GetSoMark(); v != 0 {
		seti("SO_MARK", unix.SOL_SOCKET, unix.SO_MARK, int(v))
	}
	if o.SoLinger != nil {
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: int32(o.GetSoLinger())}); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt(SO_LINGER)", err))
		}
	}
	if dev := o.GetSoBoundDev(); dev != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt(SO_BINDTODEVICE)", err))
		}
	}
	return errors.Join(errs...)
}

// setSkFilter attaches the classic BPF filter of o to fd (CRIU's packing:
// code<<48 | jt<<40 | jf<<32 | k per instruction). It comes after the
// queues are refilled, which it would otherwise filter.
func setSkFilter(fd int, o *images.SkOptsEntry) error {
	img := o.GetSoFilter()
	if len(img) == 0 {
		return nil
	}
	if len(img) > maxFilter {
		return fmt.Errorf("%w: a socket filter of %d instructions", errdefs.ErrBadImage, len(img))
	}
	f := make([]unix.SockFilter, len(img))
	for i, v := range img {
		f[i] = unix.SockFilter{Code: uint16(v >> 48), Jt: uint8(v >> 40), Jf: uint8(v >> 32), K: uint32(v)}
	}
	prog := &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, prog); err != nil {
		return os.NewSyscallError("setsockopt(SO_ATTACH_FILTER)", err)
	}
	return nil
}
