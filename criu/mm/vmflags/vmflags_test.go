package vmflags

import (
	"errors"
	"strings"
	"testing"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/procfs"
)

// TestCheckVmFlags: every VmFlag restore cannot give back fails the
// dump, by its name; the ones it sets again (or that are no state) pass.
func TestCheckVmFlags(t *testing.T) {
	for _, c := range []struct {
		flags   string
		special bool
		huge    bool
		bad     string // the flag the error names; "" if accepted
	}{
		{"rd wr mr mw me ac", false, false, ""},
		{"rd wr mr mw me nr wf dd dp", false, false, ""},
		{"rd wr mr mw me lo lf ac sl", false, false, ""},
		{"rd wr mr mw me sr ac mg hg", false, false, ""},
		{"rd ex mr mw me de", true, false, ""},    // [vdso]
		{"rd mr pf io de dd", true, false, ""},    // [vvar]
		{"rd mr pf io de dd", false, false, "pf"}, // a device's mapping
		{"rd wr sh mr mw me ms de", false, false, "de"},
		{"rd wr mr mw me ac ht", false, false, "ht"},
		{"rd wr mr mw me de ht", false, true, ""},      // on huge pages
		{"rd wr mr mw me de ht pf", false, true, "pf"}, // not a device's mapping though
		{"rd wr mr mw me ss", false, false, "ss"},
		{"rd wr mr mw me ac um", false, false, "um"},
		{"rd wr mr mw me ac ui", false, false, "ui"},
		{"rd wr mr mw me ac uw", false, false, ""},
		{"rd wr mr mw me gu ac", false, false, ""},
		{"rd wr mr mw me ac zz", false, false, "zz"}, // a flag of a later kernel
	} {
		m := procfs.Mapping{Start: 0x1000, End: 0x2000, VmFlags: strings.Fields(c.flags)}
		err := Check(m, c.special, c.huge)
		if c.bad == "" {
			if err != nil {
				t.Errorf("%q: %v", c.flags, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), `"`+c.bad+`"`) {
			t.Errorf("%q: err %v, want ErrUnsupported naming %q", c.flags, err, c.bad)
		}
	}
}

// TestCheckSocketMap: a task's mapping of a packet socket's ring passes
// with the flags the socket's mmap gives it (VM_MIXEDMAP), which
// restore's mmap of the socket gives back.
func TestCheckSocketMap(t *testing.T) {
	m := procfs.Mapping{Start: 0x7f00, End: 0xbf00, Shared: true, Path: "socket:[1234]", VmFlags: strings.Fields("rd wr sh mr mw me ms mm")}
	if err := Check(m, false, false); err != nil {
		t.Errorf("ring mapping: %v", err)
	}
}
