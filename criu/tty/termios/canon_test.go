package termios

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestCanonReplay(t *testing.T) {
	tio := unix.Termios{Lflag: unix.ICANON | unix.ECHO | unix.ISIG | unix.IEXTEN, Iflag: unix.ICRNL | unix.IXON}
	tio.Cc[unix.VEOL] = ';'
	tio.Cc[unix.VERASE], tio.Cc[unix.VSTART], tio.Cc[unix.VSTOP] = 0x7f, 0x11, 0x13
	lines, partial := CanonPending(&tio, []byte("a\nb;cd"))
	if string(lines) != "a\nb;" || string(partial) != "cd" {
		t.Fatalf("CanonPending = %q, %q", lines, partial)
	}
	r, err := CanonReplay(&tio, &unix.Termios{}, []byte("a\x01\nb;"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Lflag&(unix.ECHO|unix.ISIG) != 0 || r.Lflag&unix.ICANON == 0 || r.Iflag&unix.ICRNL != 0 || r.Iflag&unix.IXON == 0 {
		t.Errorf("flags %#x %#x", r.Lflag, r.Iflag)
	}
	if c := r.Cc[unix.VERASE]; c == 0x01 || c == '\n' || c == ';' || c == 0 {
		t.Errorf("VERASE %#x is a byte of the input or a terminator", c)
	}
	if r.Cc[unix.VEOL] != ';' || r.Cc[unix.VSTART] != 0x11 {
		t.Errorf("VEOL %#x VSTART %#x changed", r.Cc[unix.VEOL], r.Cc[unix.VSTART])
	}
	for _, c := range []struct {
		name   string
		locked unix.Termios
		data   string
	}{
		{"a locked termios", unix.Termios{Lflag: unix.ECHO}, "a\n"},
		{"VSTOP in the input with IXON", unix.Termios{}, "a\x13\n"},
	} {
		if _, err := CanonReplay(&tio, &c.locked, []byte(c.data)); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
