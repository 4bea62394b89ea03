package termios

import "testing"

// The control characters of a pty's default termios as CRIU 4.2 wrote
// them to tty-info.img on this machine (crit decode): four to an entry
// in the first 8, then what its uninitialized buffer held.
var (
	criuCc = []uint32{360651779, 65540, 1708817, 370609938, 0, 0, 0, 0,
		2104979168, 21912, 49, 0, 3637607616, 32759, 2104980560, 21912, 2104979200, 21912, 2104979200}
	defaultCc = [19]uint8{0x03, 0x1c, 0x7f, 0x15, 0x04, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0}
)

func TestPackCc(t *testing.T) {
	if got := UnpackCc(criuCc); got != defaultCc {
		t.Errorf("UnpackCc(CRIU 4.2's) = %v, want %v", got, defaultCc)
	}
	p := PackCc(defaultCc)
	if len(p) != 19 {
		t.Fatalf("PackCc: %d entries, want 19", len(p))
	}
	for i, v := range p {
		want := uint32(0)
		if i < 8 {
			want = criuCc[i]
		}
		if v != want {
			t.Errorf("PackCc entry %d = %d, want %d", i, v, want)
		}
	}
	if got := UnpackCc(p); got != defaultCc {
		t.Errorf("UnpackCc(PackCc) = %v", got)
	}
	// One character an entry, as this project wrote them before.
	var legacy []uint32
	for _, c := range defaultCc {
		legacy = append(legacy, uint32(c))
	}
	if got := UnpackCc(legacy); got != defaultCc {
		t.Errorf("UnpackCc(one an entry) = %v", got)
	}
}
