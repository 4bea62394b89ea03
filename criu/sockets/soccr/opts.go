package soccr

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// DumpOpts reads fd's TCP options of tcp_opts_entry. The keepalive
// times are read as the socket uses them (its own or the namespace's
// default) and set again as its own, as CRIU.
func DumpOpts(fd int) (*images.TcpOptsEntry, error) {
	var errs []error
	get := func(name string, opt int) int {
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, opt)
		if err != nil {
			errs = append(errs, os.NewSyscallError("getsockopt("+name+")", err))
		}
		return v
	}
	t := &images.TcpOptsEntry{
		Nodelay:   proto.Bool(get("TCP_NODELAY", unix.TCP_NODELAY) != 0),
		Cork:      proto.Bool(get("TCP_CORK", unix.TCP_CORK) != 0),
		Keepcnt:   proto.Uint32(uint32(get("TCP_KEEPCNT", unix.TCP_KEEPCNT))),
		Keepidle:  proto.Uint32(uint32(get("TCP_KEEPIDLE", unix.TCP_KEEPIDLE))),
		Keepintvl: proto.Uint32(uint32(get("TCP_KEEPINTVL", unix.TCP_KEEPINTVL))),
	}
	return t, errors.Join(errs...)
}

// SetOpts sets the TCP options of t on fd: TCP_NODELAY, TCP_CORK and
// the keepalive times (from t, or the deprecated fields of o, the
// sk_opts of older images).
func SetOpts(fd int, t *images.TcpOptsEntry, o *images.SkOptsEntry) error {
	var errs []error
	seti := func(name string, opt, v int) {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, opt, v); err != nil {
			errs = append(errs, os.NewSyscallError("setsockopt("+name+")", err))
		}
	}
	if t.GetNodelay() {
		seti("TCP_NODELAY", unix.TCP_NODELAY, 1)
	}
	if t.GetCork() {
		seti("TCP_CORK", unix.TCP_CORK, 1)
	}
	keep := func(name string, opt int, v *uint32, old *uint32) {
		if v == nil {
			v = old
		}
		if v != nil && *v != 0 {
			seti(name, opt, int(*v))
		}
	}
	keep("TCP_KEEPCNT", unix.TCP_KEEPCNT, t.Keepcnt, o.TcpKeepcnt)
	keep("TCP_KEEPIDLE", unix.TCP_KEEPIDLE, t.Keepidle, o.TcpKeepidle)
	keep("TCP_KEEPINTVL", unix.TCP_KEEPINTVL, t.Keepintvl, o.TcpKeepintvl)
	return errors.Join(errs...)
}
