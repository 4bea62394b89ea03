package dump

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// soBufLock is SO_BUF_LOCK (Linux 5.14), not in x/sys/unix.
const soBufLock = 72

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

// skPacket is one message (or, for a stream socket, a run of bytes) of a
// socket's receive queue.
type skPacket struct {
	idFor uint32 // file id of the socket it is queued on
	data  []byte
}

// maxQueue caps the bytes read from one socket's receive queue.
const maxQueue = 64 << 20

// peekQueue reads fd's receive queue without consuming it: SO_PEEK_OFF
// moves past what each MSG_PEEK returned, and is put back afterwards.
// A queue holding passed descriptors (SCM_RIGHTS) is refused.
func peekQueue(fd int, id uint32) ([]skPacket, error) {
	orig, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_PEEK_OFF)", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, 0); err != nil {
		return nil, os.NewSyscallError("setsockopt(SO_PEEK_OFF)", err)
	}
	defer unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEEK_OFF, orig)
	size, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt(SO_RCVBUF)", err)
	}
	buf := make([]byte, max(size, 1<<16)+1)
	oob := make([]byte, unix.CmsgSpace(64))
	var out []skPacket
	total := 0
	for {
		n, oobn, fl, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return out, nil
		}
		if err != nil {
			return nil, os.NewSyscallError("recvmsg(MSG_PEEK)", err)
		}
		if oobn > 0 {
			if err := refuseRights(oob[:oobn]); err != nil {
				return nil, err
			}
		}
		if fl&unix.MSG_CTRUNC != 0 {
			return nil, fmt.Errorf("%w: queued message with control data", ErrUnsupported)
		}
		if fl&unix.MSG_TRUNC != 0 {
			return nil, fmt.Errorf("%w: queued message larger than %d bytes", ErrUnsupported, len(buf))
		}
		if n == 0 {
			// End of a stream whose peer shut down, or an empty
			// datagram: neither moves the peek offset on.
			return out, nil
		}
		total += n
		if total > maxQueue {
			return nil, fmt.Errorf("%w: more than %d bytes queued", ErrUnsupported, maxQueue)
		}
		out = append(out, skPacket{idFor: id, data: append([]byte{}, buf[:n]...)})
	}
}

// pendingError reports whether the socket fd has an error pending
// (sk_err), which poll shows as POLLERR without clearing it.
func pendingError(fd int) (bool, error) {
	p := []unix.PollFd{{Fd: int32(fd)}}
	for {
		_, err := unix.Poll(p, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, os.NewSyscallError("poll", err)
		}
		return p[0].Revents&unix.POLLERR != 0, nil
	}
}

// refuseRights closes descriptors a peek copied in and fails: passing
// descriptors through a socket is not saved yet.
func refuseRights(oob []byte) error {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return fmt.Errorf("parse control message: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_RIGHTS {
			for i := 0; i+4 <= len(m.Data); i += 4 {
				unix.Close(int(int32(binary.LittleEndian.Uint32(m.Data[i:]))))
			}
			return fmt.Errorf("%w: descriptors in flight (SCM_RIGHTS)", ErrUnsupported)
		}
	}
	return nil
}
