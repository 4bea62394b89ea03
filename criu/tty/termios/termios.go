package termios

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// Entry is t as a termios_entry.
func Entry(t *unix.Termios) *images.TermiosEntry {
	e := &images.TermiosEntry{
		CIflag: proto.Uint32(t.Iflag), COflag: proto.Uint32(t.Oflag), CCflag: proto.Uint32(t.Cflag), CLflag: proto.Uint32(t.Lflag),
		CLine: proto.Uint32(uint32(t.Line)), CIspeed: proto.Uint32(t.Ispeed), COspeed: proto.Uint32(t.Ospeed),
	}
	e.CCc = PackCc(t.Cc)
	return e
}

// FromEntry is the struct termios of te.
func FromEntry(te *images.TermiosEntry) unix.Termios {
	tio := unix.Termios{
		Iflag: te.GetCIflag(), Oflag: te.GetCOflag(), Cflag: te.GetCCflag(), Lflag: te.GetCLflag(),
		Line: uint8(te.GetCLine()), Ispeed: te.GetCIspeed(), Ospeed: te.GetCOspeed(),
	}
	tio.Cc = UnpackCc(te.GetCCc())
	return tio
}

// ccEntries is the number of c_cc entries of CRIU's termios_entry
// (TERMIOS_NCC), glibcCcLen the size of glibc's c_cc (NCCS).
const (
	ccEntries  = 19
	glibcCcLen = 32
)

// PackCc writes the control characters cc (the kernel's c_cc) as CRIU's
// termios_entry holds them: CRIU reads a termios into glibc's struct,
// whose c_cc[32] has the kernel's 19 bytes then zeros, and copies those
// 32 bytes over its array of 19 uint32s, so the first 8 entries hold
// four characters each, little-endian (entry 0 is VINTR | VQUIT<<8 |
// VERASE<<16 | VKILL<<24), and the other 11 nothing (CRIU leaves them
// uninitialized; here 0). CRIU restores by the reverse copy.
func PackCc(cc [19]uint8) []uint32 {
	var b [glibcCcLen]byte
	copy(b[:], cc[:])
	out := make([]uint32, ccEntries)
	for i := 0; i < glibcCcLen/4; i++ {
		out[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return out
}

// UnpackCc reads the control characters of a termios_entry (PackCc).
// Images this project wrote before it packed them held one character an
// entry: every entry a byte, and some of the entries past the 8th set
// (VSTART, VSTOP and VSUSP are entries 8-10); those are read as such.
func UnpackCc(e []uint32) [19]uint8 {
	var cc [19]uint8
	legacy, late := true, false
	for i, v := range e {
		legacy = legacy && v <= 0xff
		late = late || i >= glibcCcLen/4 && v != 0
	}
	if legacy && late {
		for i, v := range e {
			if i < len(cc) {
				cc[i] = uint8(v)
			}
		}
		return cc
	}
	var b [glibcCcLen]byte
	for i := 0; i < glibcCcLen/4 && i < len(e); i++ {
		binary.LittleEndian.PutUint32(b[i*4:], e[i])
	}
	copy(cc[:], b[:])
	return cc
}

// State is what a tty_info entry holds of a terminal's settings, the
// same for every kind of terminal.
type State struct {
	Tio, Locked *unix.Termios
	Ws          *unix.Winsize
	Exclusive   bool
}

// Read reads the settings of the terminal open at fd c.
func Read(c int) (*State, error) {
	var s State
	var err error
	if s.Tio, err = unix.IoctlGetTermios(c, unix.TCGETS); err != nil {
		return nil, os.NewSyscallError("ioctl(TCGETS)", err)
	}
	if s.Locked, err = unix.IoctlGetTermios(c, unix.TIOCGLCKTRMIOS); err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGLCKTRMIOS)", err)
	}
	if s.Ws, err = unix.IoctlGetWinsize(c, unix.TIOCGWINSZ); err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGWINSZ)", err)
	}
	excl, err := unix.IoctlGetInt(c, unix.TIOCGEXCL)
	if err != nil {
		return nil, os.NewSyscallError("ioctl(TIOCGEXCL)", err)
	}
	s.Exclusive = excl != 0
	return &s, nil
}

// Fill sets the settings in a tty_info entry.
func (s *State) Fill(e *images.TtyInfoEntry) {
	e.Exclusive = proto.Bool(s.Exclusive)
	e.Termios, e.TermiosLocked = Entry(s.Tio), Entry(s.Locked)
	e.Winsize = &images.WinsizeEntry{WsRow: proto.Uint32(uint32(s.Ws.Row)), WsCol: proto.Uint32(uint32(s.Ws.Col)),
		WsXpixel: proto.Uint32(uint32(s.Ws.Xpixel)), WsYpixel: proto.Uint32(uint32(s.Ws.Ypixel))}
}

// Set sets the termios, locked termios and window size of info on fd.
func Set(fd int, info *images.TtyInfoEntry) error {
	if te := info.GetTermios(); te != nil {
		tio := FromEntry(te)
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, &tio); err != nil {
			return os.NewSyscallError("ioctl(TCSETS)", err)
		}
	}
	if te := info.GetTermiosLocked(); te != nil {
		tio := FromEntry(te)
		if err := unix.IoctlSetTermios(fd, unix.TIOCSLCKTRMIOS, &tio); err != nil {
			return os.NewSyscallError("ioctl(TIOCSLCKTRMIOS)", err)
		}
	}
	if ws := info.GetWinsize(); ws != nil {
		w := unix.Winsize{Row: uint16(ws.GetWsRow()), Col: uint16(ws.GetWsCol()), Xpixel: uint16(ws.GetWsXpixel()), Ypixel: uint16(ws.GetWsYpixel())}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &w); err != nil {
			return os.NewSyscallError("ioctl(TIOCSWINSZ)", err)
		}
	}
	return nil
}

// ReplayableInput tells whether the input bytes data, handed to a tty's
// line discipline (n_tty) in the mode tio, are stored as they are, so
// that input found waiting in a tty's buffer can be put back in it: not
// in canonical mode (line editing, EOF), without echo, without input
// translations, and with none of the bytes a special character of that
// mode (signals, flow control, CR/NL mapping, PARMRK's \377, ISTRIP's
// eighth bit). A nil data checks the mode only. It returns why not.
func ReplayableInput(tio *unix.Termios, data []byte) error {
	switch {
	case tio.Lflag&unix.ICANON != 0:
		return fmt.Errorf("canonical mode")
	case tio.Lflag&unix.ECHO != 0:
		return fmt.Errorf("echo is on")
	case tio.Iflag&unix.IUCLC != 0:
		return fmt.Errorf("IUCLC is on")
	}
	special := map[byte]string{}
	if tio.Iflag&unix.IXON != 0 {
		special[tio.Cc[unix.VSTART]], special[tio.Cc[unix.VSTOP]] = "VSTART", "VSTOP"
	}
	if tio.Lflag&unix.ISIG != 0 {
		special[tio.Cc[unix.VINTR]], special[tio.Cc[unix.VQUIT]], special[tio.Cc[unix.VSUSP]] = "VINTR", "VQUIT", "VSUSP"
	}
	if tio.Iflag&(unix.ICRNL|unix.IGNCR) != 0 {
		special['\r'] = "CR (ICRNL, IGNCR)"
	}
	if tio.Iflag&unix.INLCR != 0 {
		special['\n'] = "NL (INLCR)"
	}
	for i, c := range data {
		if what, ok := special[c]; ok {
			return fmt.Errorf("byte %d is %#x, the tty's %s", i, c, what)
		}
		if c == 0xff && tio.Iflag&unix.PARMRK != 0 {
			return fmt.Errorf("byte %d is 0xff, doubled by PARMRK", i)
		}
		if c >= 0x80 && tio.Iflag&unix.ISTRIP != 0 {
			return fmt.Errorf("byte %d is %#x, stripped by ISTRIP", i, c)
		}
	}
	return nil
}
