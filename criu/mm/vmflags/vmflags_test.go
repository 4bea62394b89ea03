package vmflags

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/procfs"
	"github.com/criugo/criu/proto/images"
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

// TestCheckImage: an image's mapping of a packet socket's ring (as CRIU
// 4.2 writes it: VMA_AREA_REGULAR | VMA_AREA_SOCKET, the socket's file
// id in shmid) is refused at restore; other mappings pass.
func TestCheckImage(t *testing.T) {
	anon := &images.VmaEntry{Start: proto.Uint64(0x1000), End: proto.Uint64(0x2000), Status: proto.Uint32(image.VmaAreaRegular | image.VmaAnonPrivate)}
	ring := &images.VmaEntry{Start: proto.Uint64(0x7f00), End: proto.Uint64(0xbf00), Status: proto.Uint32(0x801), Shmid: proto.Uint64(6)}
	if err := CheckImage([]*images.VmaEntry{anon}); err != nil {
		t.Errorf("anonymous mapping: %v", err)
	}
	err := CheckImage([]*images.VmaEntry{anon, ring})
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "0x7f00-0xbf00 (file id 6)") || !strings.Contains(err.Error(), "packet socket's ring") {
		t.Errorf("ring mapping: %v, want ErrUnsupported naming it", err)
	}
}

// TestCheckSocketMap: a task's mapping of a packet socket's ring fails
// the dump, saying what it is (its VmFlags would only say a device
// mapping).
func TestCheckSocketMap(t *testing.T) {
	m := procfs.Mapping{Start: 0x7f00, End: 0xbf00, Shared: true, Path: "socket:[1234]", VmFlags: strings.Fields("rd wr sh mr mw me ms mm")}
	if err := Check(m, false, false); !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "packet socket's ring (PACKET_MMAP)") {
		t.Errorf("ring mapping: %v, want ErrUnsupported naming the ring", err)
	}
}
