package ptybuf

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/tty/termios"
	"github.com/criugo/criu/internal/linux"
)

// MaxQueued is the most bytes taken from a master's buffer. n_tty's
// buffer holds 4096; a fuller one may have more bytes waiting behind it,
// in the tty's flip buffer, which TIOCINQ does not count.
const MaxQueued = 2048

// Queued is the number of bytes waiting to be read on the tty end c.
// A poll first: when the line discipline's buffer is empty, n_tty's poll
// waits for the tty's flip buffer work, so that bytes written just before
// the freeze are counted too.
func Queued(c int) (int, error) {
	if _, err := linux.Poll([]unix.PollFd{{Fd: int32(c), Events: unix.POLLIN}}, 0); err != nil {
		return 0, err
	}
	n, err := unix.IoctlGetInt(c, unix.TIOCINQ)
	if err != nil {
		return 0, os.NewSyscallError("ioctl(TIOCINQ)", err)
	}
	return n, nil
}

// KeepQueued takes a copy of the n bytes waiting in the buffer of the
// pty master c (what its slave's writer wrote, not yet read by the
// master's reader), leaving them in place: it reads them out and at once
// puts them back with TIOCSTI, which hands each byte to the master's own
// line discipline, always raw (a master's termios is the driver's; TCSETS
// on a master sets its slave's), so the buffer holds the same bytes
// again. Restore puts them there the same way (refillPtys). CRIU
// writes them into the slave instead, through its output processing
// (ONLCR makes "\r\n" of "\n" a second time). TIOCSTI from outside the
// tty's session needs CAP_SYS_ADMIN, checked before anything is read.
//
// In packet mode (pkt, TIOCPKT) a read returns a status byte before the
// bytes (CRIU 4.2 keeps that byte as data: the reader gets a NUL more
// after restore): packet mode is turned off for the copy and on again,
// which clears no status, as PacketMode found none pending.
func KeepQueued(c int, index uint32, n int, pkt bool) (_ []byte, err error) {
	if n > MaxQueued {
		return nil, fmt.Errorf("%w: pty %d: %d bytes written to /dev/pts/%d wait in its master's buffer, more than %d (more may wait behind them)", errdefs.ErrUnsupported, index, n, index, MaxQueued)
	}
	if !CapSysAdmin() {
		return nil, fmt.Errorf("%w: pty %d: %d bytes written to /dev/pts/%d are not yet read from its master, and putting them back (TIOCSTI) needs CAP_SYS_ADMIN", errdefs.ErrUnsupported, index, n, index)
	}
	if pkt {
		if err := unix.IoctlSetPointerInt(c, unix.TIOCPKT, 0); err != nil {
			return nil, fmt.Errorf("pty %d: packet mode off for the copy: %w", index, os.NewSyscallError("ioctl(TIOCPKT)", err))
		}
		defer func() {
			if e := unix.IoctlSetPointerInt(c, unix.TIOCPKT, 1); e != nil && err == nil {
				err = fmt.Errorf("pty %d: packet mode on again: %w", index, os.NewSyscallError("ioctl(TIOCPKT)", e))
			}
		}()
	}
	b := make([]byte, n)
	got := 0
	for got < n {
		k, err := linux.RetryEINTR(linux.Always, func() (int, error) { return unix.Read(c, b[got:]) })
		if err == nil && k == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fmt.Errorf("pty %d: read its master's %d waiting bytes: got %d: %w", index, n, got, PutBack(c, b[:got], err))
		}
		got += k
	}
	if err := PutBack(c, b, nil); err != nil {
		return nil, fmt.Errorf("pty %d: %w", index, err)
	}
	if m, err := unix.IoctlGetInt(c, unix.TIOCINQ); err != nil || m != n {
		return nil, fmt.Errorf("pty %d: its master's buffer holds %d bytes after they were put back, want %d (%v)", index, m, n, err)
	}
	return b, nil
}

// PacketMode tells whether the pty master c is in packet mode (TIOCPKT),
// and refuses one with a status change not yet read (poll's POLLPRI: a
// flush, output stopped or started, a change of flow control or of
// mode): reading it clears it, the images have no field for it, and
// restore could not make it again.
func PacketMode(c int, index uint32) (bool, error) {
	pkt, err := unix.IoctlGetInt(c, unix.TIOCGPKT)
	if err != nil {
		return false, os.NewSyscallError("ioctl(TIOCGPKT)", err)
	}
	if pkt == 0 {
		return false, nil
	}
	fds := []unix.PollFd{{Fd: int32(c), Events: unix.POLLPRI}}
	if _, err := linux.Poll(fds, 0); err != nil {
		return false, err
	}
	if fds[0].Revents&unix.POLLPRI != 0 {
		return false, fmt.Errorf("%w: pty %d in packet mode has a status change (TIOCPKT: a flush, output stopped or started, flow control changed) not yet read from its master, which restore cannot make again", errdefs.ErrUnsupported, index)
	}
	return true, nil
}

// KeepInput takes a copy of the n bytes of input waiting in the buffer
// of the pty slave sl (/dev/pts/index, opened non-blocking from its
// master, TIOCGPTPEER), whose termios is tio, leaving them in place: read
// out and at once handed back to the slave's line discipline with
// TIOCSTI, which is what restore does too (Refill). The mode was checked
// (termios.ReplayableInput); the bytes are checked here.
func KeepInput(sl int, index uint32, tio *unix.Termios, n int) ([]byte, error) {
	b := make([]byte, n)
	got := 0
	for got < n {
		k, err := linux.RetryEINTR(linux.Always, func() (int, error) { return unix.Read(sl, b[got:]) })
		if err == nil && k == 0 || err == unix.EAGAIN {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fmt.Errorf("pty %d: read the %d bytes of input waiting on its slave: got %d: %w", index, n, got, PutBack(sl, b[:got], err))
		}
		got += k
	}
	// Checked before the read for the mode; now for the bytes. They go
	// back in any case: in a mode where one of them is special now (a
	// ^C taken in while ISIG was off), under a mode without those
	// specials for as long as it takes (turning neither ICANON nor ECHO,
	// which keeps the buffer as it is), then the task's mode again.
	perr := termios.ReplayableInput(tio, b)
	if perr != nil {
		tmp := *tio
		tmp.Lflag &^= unix.ISIG
		tmp.Iflag &^= unix.ICRNL | unix.IGNCR | unix.INLCR | unix.PARMRK | unix.ISTRIP
		if bytes.IndexByte(b, tio.Cc[unix.VSTART]) >= 0 || bytes.IndexByte(b, tio.Cc[unix.VSTOP]) >= 0 {
			tmp.Iflag &^= unix.IXON
		}
		if err := unix.IoctlSetTermios(sl, unix.TCSETS, &tmp); err != nil {
			return nil, fmt.Errorf("pty %d: %w", index, PutBack(sl, b, os.NewSyscallError("ioctl(TCSETS)", err)))
		}
	}
	err := PutBack(sl, b, nil)
	if perr != nil {
		if e := unix.IoctlSetTermios(sl, unix.TCSETS, tio); e != nil && err == nil {
			err = fmt.Errorf("set its termios back: %w", os.NewSyscallError("ioctl(TCSETS)", e))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pty %d: %w", index, err)
	}
	if m, err := unix.IoctlGetInt(sl, unix.TIOCINQ); err != nil || m != n {
		return nil, fmt.Errorf("pty %d: its slave's buffer holds %d bytes after they were put back, want %d (%v)", index, m, n, err)
	}
	if perr != nil {
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read: %v", errdefs.ErrUnsupported, index, n, index, perr)
	}
	return b, nil
}

// PutBack hands b to the line discipline of the tty end c, byte by
// byte, and returns why (a non-nil) err it was called for, or its own.
func PutBack(c int, b []byte, err error) error {
	for i, x := range b {
		// TIOCSTI reads one char through its pointer: the low byte
		// of the int on this little-endian machine.
		if e := unix.IoctlSetPointerInt(c, unix.TIOCSTI, int(x)); e != nil {
			return fmt.Errorf("put back the waiting bytes: %d of %d lost: %w", len(b)-i, len(b), os.NewSyscallError("ioctl(TIOCSTI)", e))
		}
	}
	return err
}

// CapSysAdmin reports whether this process has CAP_SYS_ADMIN in effect.
func CapSysAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_SYS_ADMIN) != 0
}
