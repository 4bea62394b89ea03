package tty

import "testing"

func TestParseTTYKey(t *testing.T) {
	for _, c := range []struct {
		in, key string
		ok, bad bool
	}{
		{"tty[8801:1a]", "tty[8801:1a]", true, false},
		{"tty[0x8801:1A]", "tty[8801:1a]", true, false},
		{"tty[8801]", "", true, true},
		{"tty[8801:1a", "", true, true},
		{"tty[g:1]", "", true, true},
		{"tty[1ffffffff:1]", "", true, true},
		{"veth[a]:b", "", false, false},
	} {
		key, ok, err := ParseTTYKey(c.in)
		if ok != c.ok || (err != nil) != c.bad || key != c.key {
			t.Errorf("ParseTTYKey(%q) = %q %v %v", c.in, key, ok, err)
		}
	}
	if k := TTYKey(0x8801, 0x1a); k != "tty[8801:1a]" {
		t.Errorf("TTYKey = %q", k)
	}
}
