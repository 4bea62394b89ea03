package daemon

import (
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Liveness of the TCP leg. A link whose peer vanished (a cable pulled, a
// veth down for good) sends nothing back: without these the kernel
// retransmits for some 15 minutes before it gives up, and a keepalive
// is sent only after two idle hours.
const (
	// LinkTimeout is how long sent data may stay unacknowledged by the
	// peer's TCP (TCP_USER_TIMEOUT), and how long an idle link may stay
	// silent to keepalive probes, before the connection is dropped.
	LinkTimeout = 10 * time.Second
	keepIdle    = 3 * time.Second
	keepIntvl   = 2 * time.Second
)

// TCPDialer returns a dialer whose connections detect a dead peer within
// about userTimeout (LinkTimeout when 0): TCP_USER_TIMEOUT, and
// keepalive probes from keepIdle.
func TCPDialer(userTimeout time.Duration) *net.Dialer {
	if userTimeout <= 0 {
		userTimeout = LinkTimeout
	}
	return &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: keepIdle, Interval: keepIntvl,
			Count: max(1, int(userTimeout/keepIntvl))},
		Control: userTimeoutControl(userTimeout),
	}
}

// TCPListenConfig is TCPDialer's counterpart for the cache's listener:
// accepted connections inherit TCP_USER_TIMEOUT and get keepalives.
func TCPListenConfig(userTimeout time.Duration) *net.ListenConfig {
	d := TCPDialer(userTimeout)
	return &net.ListenConfig{KeepAliveConfig: d.KeepAliveConfig, Control: d.Control}
}

func userTimeoutControl(d time.Duration) func(network, address string, c syscall.RawConn) error {
	return func(network, _ string, c syscall.RawConn) error {
		if !strings.HasPrefix(network, "tcp") {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
		})
		if err == nil && serr != nil {
			err = os.NewSyscallError("setsockopt TCP_USER_TIMEOUT", serr)
		}
		return err
	}
}
