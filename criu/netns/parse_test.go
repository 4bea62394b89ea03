package netns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/criugo/criu/criu/errdefs"
)

// rtm builds one RTM_NEWROUTE message of table, with RTA_TABLE if
// rtaTab is non-zero, and an odd-length attribute to exercise padding.
func rtm(table uint8, rtaTab uint32) []byte {
	var attrs []byte
	if rtaTab != 0 {
		a := make([]byte, 8)
		binary.NativeEndian.PutUint16(a, 8)
		binary.NativeEndian.PutUint16(a[2:], rtaTable)
		binary.NativeEndian.PutUint32(a[4:], rtaTab)
		attrs = append(attrs, a...)
	}
	odd := []byte{5, 0, 99, 0, 0xaa, 0, 0, 0} // len 5, padded to 8
	attrs = append(attrs, odd...)
	n := nlmsgHdrLen + rtmsgLen + len(attrs)
	m := make([]byte, nlmsgHdrLen+rtmsgLen)
	binary.NativeEndian.PutUint32(m, uint32(n))
	binary.NativeEndian.PutUint16(m[4:], 24) // RTM_NEWROUTE
	m[rtmTableOff] = table
	return append(m, attrs...)
}

func TestDropLocalTable(t *testing.T) {
	magic := []byte{0x45, 0x23, 0x11, 0x45}
	main, local, big, localByAttr := rtm(254, 0), rtm(255, 0), rtm(252, 1000), rtm(252, 255)
	in := slices.Concat(magic, main, local, big, localByAttr, local)
	got, err := dropLocalTable(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Concat(magic, main, big); !bytes.Equal(got, want) {
		t.Errorf("got %x\nwant %x", got, want)
	}
	// Link state flags (dead 1, linkdown 16) go, others (onlink 4) stay,
	// in the route and in each nexthop of RTA_MULTIPATH.
	down := rtm(254, 0)
	binary.NativeEndian.PutUint32(down[rtmFlagsOff:], 1|4|16)
	mp := []byte{20, 0, rtaMultipath, 0, 8, 0, 1 | 4 | 16, 0, 2, 0, 0, 0, 8, 0, 16, 0, 3, 0, 0, 0}
	down = append(down, mp...)
	binary.NativeEndian.PutUint32(down, uint32(len(down)))
	got, err = dropLocalTable(slices.Concat(magic, down))
	if err != nil {
		t.Fatal(err)
	}
	if f := binary.NativeEndian.Uint32(got[ipDumpMagic+rtmFlagsOff:]); f != 4 {
		t.Errorf("rtm_flags %#x after dump, want 0x4", f)
	}
	// rtm's messages hold an 8-byte attribute before RTA_MULTIPATH.
	if nh := got[ipDumpMagic+nlmsgHdrLen+rtmsgLen+8+4:]; nh[2] != 4 || nh[8+2] != 0 {
		t.Errorf("nexthop flags %#x %#x, want 0x4 0", nh[2], nh[8+2])
	}
	if got, err := dropLocalTable(magic); err != nil || !bytes.Equal(got, magic) {
		t.Errorf("empty dump: %x, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"short":          magic[:3],
		"short header":   slices.Concat(magic, main[:10]),
		"length too big": slices.Concat(magic, main[:len(main)-1]),
		"length too small": func() []byte {
			m := slices.Clone(main)
			binary.NativeEndian.PutUint32(m, 8)
			return slices.Concat(magic, m)
		}(),
	} {
		if _, err := dropLocalTable(bad); !errors.Is(err, ErrBadImage) {
			t.Errorf("%s: err = %v, want ErrBadImage", name, err)
		}
	}
}

func FuzzDropLocalTable(f *testing.F) {
	magic := []byte{1, 2, 3, 4}
	f.Add(magic)
	f.Add(slices.Concat(magic, rtm(254, 0), rtm(255, 0)))
	f.Add(slices.Concat(magic, rtm(252, 255)))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := dropLocalTable(b)
		if err != nil {
			return
		}
		if len(out) > len(b) {
			t.Fatalf("output longer than input")
		}
		// Filtering is idempotent.
		again, err := dropLocalTable(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second pass: %v", err)
		}
	})
}

func TestParseIPLinks(t *testing.T) {
	out := []byte(`[
	 {"ifindex":3,"ifname":"d0","flags":["BROADCAST","NOARP"],"mtu":1400,"link_type":"ether","address":"aa:bb:cc:dd:ee:ff","linkinfo":{"info_kind":"dummy"}},
	 {"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"link_type":"loopback","address":"00:00:00:00:00:00"},
	 {"ifindex":2,"ifname":"v0","flags":["BROADCAST","MULTICAST","UP"],"mtu":1500,"link_type":"ether","address":"02:00:00:00:00:01","link_index":7,"link_netnsid":0,"linkinfo":{"info_kind":"veth"}},
	 {"ifindex":5,"link":"a1","ifname":"a0","flags":["BROADCAST"],"mtu":1500,"link_type":"ether","address":"02:00:00:00:00:05","linkinfo":{"info_kind":"veth"}},
	 {"ifindex":4,"link":"a0","ifname":"a1","flags":["BROADCAST"],"mtu":1500,"link_type":"ether","address":"02:00:00:00:00:04","linkinfo":{"info_kind":"veth"}}]`)
	got, err := parseIPLinks(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Link{
		{Index: 1, Name: "lo", Kind: KindLoopback, MTU: 65536, Up: true},
		{Index: 2, Name: "v0", Kind: KindVeth, MTU: 1500, Up: true, Address: "02:00:00:00:00:01"},
		{Index: 3, Name: "d0", Kind: KindDummy, MTU: 1400, Address: "aa:bb:cc:dd:ee:ff"},
		{Index: 4, Name: "a1", Kind: KindVeth, MTU: 1500, Address: "02:00:00:00:00:04", Peer: "a0"},
		{Index: 5, Name: "a0", Kind: KindVeth, MTU: 1500, Address: "02:00:00:00:00:05", Peer: "a1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	var buf bytes.Buffer
	if err := encodeLinks(&buf, got); err != nil {
		t.Fatal(err)
	}
	back, err := decodeLinks(&buf)
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("round trip: %+v, %v", back, err)
	}

	_, err = parseIPLinks([]byte(`[{"ifindex":4,"ifname":"bo0","link_type":"ether","linkinfo":{"info_kind":"bond"}}]`))
	if !errors.Is(err, ErrUnsupportedLink) {
		t.Errorf("bond: err = %v, want ErrUnsupportedLink", err)
	}
	_, err = parseIPLinks([]byte(`[{"ifindex":4,"ifname":"br0","link_type":"ether","linkinfo":{"info_kind":"bridge","info_data":{"vlan_filtering":1}}}]`))
	if !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("bridge filtering VLANs: err = %v, want ErrUnsupported", err)
	}
}

func TestDecodeLinksBad(t *testing.T) {
	for name, in := range map[string]string{
		"not json":  "garbage",
		"version":   `{"version":2,"links":[]}`,
		"no name":   `{"version":1,"links":[{"index":1}]}`,
		"no index":  `{"version":1,"links":[{"name":"lo"}]}`,
		"bad mtu":   `{"version":1,"links":[{"index":1,"name":"lo","mtu":-1}]}`,
		"truncated": `{"version":1,"links":[`,
		"lost peer": `{"version":1,"links":[{"index":2,"name":"a0","kind":"veth","peer":"a1"}]}`,
		"one-sided": `{"version":1,"links":[{"index":2,"name":"a0","kind":"veth","peer":"a1"},{"index":3,"name":"a1","kind":"veth"}]}`,
		"not veth":  `{"version":1,"links":[{"index":2,"name":"a0","kind":"dummy","peer":"a1"},{"index":3,"name":"a1","kind":"veth","peer":"a0"}]}`,
	} {
		if _, err := decodeLinks(bytes.NewReader([]byte(in))); !errors.Is(err, ErrBadImage) {
			t.Errorf("%s: err = %v, want ErrBadImage", name, err)
		}
	}
	big := bytes.Repeat([]byte(" "), maxLinksImage+1)
	if _, err := decodeLinks(bytes.NewReader(big)); !errors.Is(err, ErrBadImage) {
		t.Errorf("oversized: err = %v", err)
	}
}

func TestParseExternal(t *testing.T) {
	for _, c := range []struct {
		spec         string
		inner, outer string
		ok           bool
		bad          bool
	}{
		{"veth[eth0]:veth101", "eth0", "veth101", true, false},
		{"veth[v0]:p0", "v0", "p0", true, false},
		{"mnt[/x]:y", "", "", false, false},
		{"dev[sda]:x", "", "", false, false},
		{"unix[123]", "", "", false, false},
		{"veth[eth0]", "", "", false, true},
		{"veth[eth0]:", "", "", false, true},
		{"veth[]:out", "", "", false, true},
		{"veth[eth0]:out@br0", "eth0", "out@br0", true, false},
		{"veth[eth0]:out@", "", "", false, true},
		{"veth[eth0]:@br0", "", "", false, true},
		{"veth[eth0]:out@br@0", "eth0", "out@br@0", true, false}, // CRIU cuts at the first @
		{"veth[eth0]:out@a-name-of-16-byte", "", "", false, true},
		{"veth[eth0]:a-name-of-16-byte", "", "", false, true},
		{"veth[a/b]:out", "", "", false, true},
		{"veth[..]:out", "", "", false, true},
		{"veth[in]:o ut", "", "", false, true},
		{"netdev[eth0]:pre0", "eth0", "netdev:pre0", true, false},
		{"netdev[eth0]", "", "", false, true},
		{"netdev[eth0]:a:b", "", "", false, true},
	} {
		inner, outer, ok, err := ParseExternal(c.spec)
		if inner != c.inner || outer != c.outer || ok != c.ok || (err != nil) != c.bad {
			t.Errorf("ParseExternal(%q) = %q, %q, %v, %v", c.spec, inner, outer, ok, err)
		}
		if c.bad && !errors.Is(err, ErrBadExternal) {
			t.Errorf("ParseExternal(%q): err %v is not ErrBadExternal", c.spec, err)
		}
	}
}

func TestParseExternalNet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ino     uint64
		key     string
		ok, bad bool
	}{
		{"net[4026532199]:extRootNetNS", 4026532199, "extRootNetNS", true, false},
		{"veth[a]:b", 0, "", false, false},
		{"net[x]:k", 0, "", true, true},
		{"net[12]:", 0, "", true, true},
		{"net[12]", 0, "", true, true},
	} {
		ino, key, ok, err := ParseExternalNet(tc.in)
		if ok != tc.ok || (err != nil) != tc.bad || !tc.bad && (ino != tc.ino || key != tc.key) {
			t.Errorf("ParseExternalNet(%q) = %d, %q, %v, %v", tc.in, ino, key, ok, err)
		}
	}
}
