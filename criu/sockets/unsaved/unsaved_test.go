package unsaved

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSameEffect: TCP_NOTSENT_LOWAT 0 and the sysctl's value act alike;
// other values, or other options, do not.
func TestSameEffect(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_notsent_lowat")
	if err != nil {
		t.Skipf("no tcp_notsent_lowat sysctl: %v", err)
	}
	def, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	lowat := Opt{unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", false}
	other := Opt{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", false}
	d := int(int32(uint32(def)))
	for _, c := range []struct {
		o    Opt
		v, w int
		want bool
	}{
		{lowat, d, 0, true},
		{lowat, 0, d, true},
		{lowat, 16384, 0, d == 16384},
		{lowat, 16384, 8192, false},
		{other, d, 0, false},
	} {
		if got := sameEffect(c.o, c.v, c.w); got != c.want {
			t.Errorf("sameEffect(%s, %d, %d) = %v, want %v", c.o.name, c.v, c.w, got, c.want)
		}
	}
}
