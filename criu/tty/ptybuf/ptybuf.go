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

// KeepCanon is KeepInput for a slave in canonical mode: the n bytes of
// its complete lines, read a line a read (an empty read is a line ended
// by EOF, ^D), then those of the line being typed, which TIOCINQ does
// not count, read with canonical mode off for the while; all put back
// under termios.CanonReplay's mode, which makes the same lines of them
// without echoing or editing them again, then the task's mode again.
// Refused by name once they are back: a line ended by EOF, which the
// images have no mark for; one holding a terminator taken literally
// (VLNEXT); a lock on the termios (before anything is read). With n 0
// and a lock, there is nothing known to keep: nil.
func KeepCanon(sl int, index uint32, tio *unix.Termios, n int) ([]byte, error) {
	locked, err := unix.IoctlGetTermios(sl, unix.TIOCGLCKTRMIOS)
	if err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGLCKTRMIOS)", err)
	}
	if *locked != (unix.Termios{}) {
		if n == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: pty %d: %d bytes of input to /dev/pts/%d are not yet read, in canonical mode, and its termios is locked (TIOCSLCKTRMIOS)", errdefs.ErrUnsupported, index, n, index)
	}
	var lines [][]byte
	var eof []bool
	var all []byte
	buf := make([]byte, MaxQueued+1)
	back := func(partial []byte, err error) error {
		tmp, rerr := termios.CanonReplay(tio, locked, append(append([]byte(nil), all...), partial...))
		if rerr != nil {
			tmp = tio // the best left: specials may act again
		}
		if e := unix.IoctlSetTermios(sl, unix.TCSETS, tmp); e != nil {
			return fmt.Errorf("put back the waiting input: %w (and %v)", os.NewSyscallError("ioctl(TCSETS)", e), err)
		}
		for i, l := range lines {
			if eof[i] {
				l = append(append([]byte(nil), l...), tmp.Cc[unix.VEOF])
			}
			if e := PutBack(sl, l, nil); e != nil {
				return fmt.Errorf("%w (and %v)", e, err)
			}
		}
		if e := PutBack(sl, partial, nil); e != nil {
			return fmt.Errorf("%w (and %v)", e, err)
		}
		if e := unix.IoctlSetTermios(sl, unix.TCSETS, tio); e != nil && err == nil {
			return fmt.Errorf("set its termios back: %w", os.NewSyscallError("ioctl(TCSETS)", e))
		}
		if err == nil && rerr != nil {
			err = fmt.Errorf("%w: %v", errdefs.ErrUnsupported, rerr)
		}
		return err
	}
	for len(all) <= n {
		k, err := linux.RetryEINTR(linux.Always, func() (int, error) { return unix.Read(sl, buf) })
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pty %d: read the input waiting on its slave: %w", index, back(nil, err))
		}
		lines = append(lines, append([]byte(nil), buf[:k]...))
		eof = append(eof, k == 0 || !termios.Terminates(tio, buf[k-1]))
		all = append(all, buf[:k]...)
	}
	raw := *tio
	raw.Lflag &^= unix.ICANON
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 0, 0
	var partial []byte
	err = unix.IoctlSetTermios(sl, unix.TCSETS, &raw)
	if err != nil {
		err = os.NewSyscallError("ioctl(TCSETS)", err)
	} else if p, e := unix.IoctlGetInt(sl, unix.TIOCINQ); e != nil {
		err = os.NewSyscallError("ioctl(TIOCINQ)", e)
	} else if p > 0 {
		b := make([]byte, p)
		k, e := linux.RetryEINTR(linux.Always, func() (int, error) { return unix.Read(sl, b) })
		if e != nil {
			err = fmt.Errorf("read the line being typed: %w", e)
		} else {
			partial = b[:k]
		}
	}
	if err := back(partial, err); err != nil {
		return nil, fmt.Errorf("pty %d: %w", index, err)
	}
	if m, err := unix.IoctlGetInt(sl, unix.TIOCINQ); err != nil || m != n || len(all) != n {
		return nil, fmt.Errorf("pty %d: its slave's buffer holds %d bytes of complete lines after they were put back, %d read, want %d (%v)", index, m, len(all), n, err)
	}
	for i, l := range lines {
		if eof[i] {
			return nil, fmt.Errorf("%w: pty %d: a line of input to /dev/pts/%d not yet read was ended by EOF (^D), which the images have no mark for", errdefs.ErrUnsupported, index, index)
		}
		if c, _ := termios.CanonPending(tio, l[:len(l)-1]); len(c) > 0 {
			return nil, fmt.Errorf("%w: pty %d: a line of input to /dev/pts/%d not yet read holds a line terminator taken literally (VLNEXT)", errdefs.ErrUnsupported, index, index)
		}
	}
	if c, _ := termios.CanonPending(tio, partial); len(c) > 0 {
		return nil, fmt.Errorf("%w: pty %d: the line being typed on /dev/pts/%d holds a line terminator taken literally (VLNEXT)", errdefs.ErrUnsupported, index, index)
	}
	return append(all, partial...), nil
}
