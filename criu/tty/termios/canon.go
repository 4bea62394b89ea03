package termios

import (
	"bytes"
	"fmt"

	"golang.org/x/sys/unix"
)

// Input in canonical mode (ICANON) waits in n_tty's buffer as lines
// already edited: each complete line ends with its terminator (NL, the
// tty's VEOL, or VEOL2 with IEXTEN) and a read takes one line; after the
// last one may wait the line being typed, not yet terminated, which
// TIOCINQ does not count. Handed to the line discipline again (TIOCSTI)
// under CanonReplay's mode, the same bytes make the same lines: canonical
// still, so each terminator ends a line as it did, but with nothing that
// would echo them a second time, edit them, signal or map
// them (the specials are set to a byte none of them is; flow control
// stays).

// Terminates reports whether c ends a line in canonical mode tio.
func Terminates(tio *unix.Termios, c byte) bool {
	return c == '\n' || c == tio.Cc[unix.VEOL] || (tio.Lflag&unix.IEXTEN != 0 && c == tio.Cc[unix.VEOL2])
}

// CanonPending splits data, the input waiting in canonical mode tio,
// at its line terminators: the bytes of the complete lines, and those
// of the unterminated line after them.
func CanonPending(tio *unix.Termios, data []byte) (lines, partial []byte) {
	end := 0
	for i, c := range data {
		if Terminates(tio, c) {
			end = i + 1
		}
	}
	return data[:end], data[end:]
}

// CanonReplay is the mode to hand data back to a slave in canonical mode
// tio under, for the lines it makes to be those it was read as (split at
// their terminators; locked, the lock of the slave's termios): tio with
// echo, signals and input mapping off, and its special characters but
// flow control's (IXON's, whose change a packet-mode master would
// report) set to bytes not in data (VEOF to one of its own). It returns why not: a lock
// on the termios, a flow-control byte in data, no byte left for them.
func CanonReplay(tio, locked *unix.Termios, data []byte) (*unix.Termios, error) {
	if tio.Lflag&unix.ICANON == 0 {
		return nil, fmt.Errorf("not in canonical mode")
	}
	if *locked != (unix.Termios{}) {
		return nil, fmt.Errorf("its termios is locked (TIOCSLCKTRMIOS)")
	}
	if tio.Iflag&unix.IXON != 0 && (bytes.IndexByte(data, tio.Cc[unix.VSTART]) >= 0 || bytes.IndexByte(data, tio.Cc[unix.VSTOP]) >= 0) {
		return nil, fmt.Errorf("a byte is the tty's VSTART or VSTOP, taken in while IXON was off")
	}
	var spare []byte // two bytes not in data: the specials', and VEOF's (ERASE is matched first)
	for c := 1; c < 256 && len(spare) < 2; c++ {
		if bytes.IndexByte(data, byte(c)) < 0 && !Terminates(tio, byte(c)) && c != int(tio.Cc[unix.VSTART]) && c != int(tio.Cc[unix.VSTOP]) {
			spare = append(spare, byte(c))
		}
	}
	if len(spare) < 2 {
		return nil, fmt.Errorf("every byte value is in the input")
	}
	t := *tio
	t.Lflag &^= unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL | unix.ECHOCTL | unix.ECHOPRT | unix.ECHOKE | unix.ISIG
	t.Iflag &^= unix.ICRNL | unix.INLCR | unix.IGNCR | unix.IUCLC | unix.ISTRIP | unix.PARMRK
	for _, i := range []int{unix.VINTR, unix.VQUIT, unix.VERASE, unix.VKILL,
		unix.VSUSP, unix.VREPRINT, unix.VDISCARD, unix.VWERASE, unix.VLNEXT} {
		t.Cc[i] = spare[0]
	}
	t.Cc[unix.VEOF] = spare[1]
	return &t, nil
}
