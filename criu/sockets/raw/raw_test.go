package raw

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/proto/images"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

func rawSock(t *testing.T, family, protocol int) int {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, protocol)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func ino(t *testing.T, fd int) uint32 {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}

// /proc/net/raw and raw6 lines as the kernel prints them.
func TestParseProc(t *testing.T) {
	v4 := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
		" 124: 0100007F:00FD 0200007F:0000 01 00000000:00000000 00:00000000 00000000     0        0 3092096 2 00000000a438f144 0\n"
	m, err := parseProc("raw", []byte(v4))
	if err != nil {
		t.Fatal(err)
	}
	d := m[3092096]
	if d == nil || d.State != 1 || !bytes.Equal(d.Src, []byte{127, 0, 0, 1}) || !bytes.Equal(d.Dst, []byte{127, 0, 0, 2}) {
		t.Fatalf("parsed %+v", d)
	}
	v6 := "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
		"  234: 00000000000000000000000001000000:003A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3092097 2 00000000148a3344 0\n"
	if m, err = parseProc("raw6", []byte(v6)); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 16)
	want[15] = 1 // ::1
	if d = m[3092097]; d == nil || d.State != 7 || !bytes.Equal(d.Src, want) || len(d.Dst) != 16 {
		t.Fatalf("parsed %+v", d)
	}
	if _, err := parseProc("raw", []byte("h\n 1: 0100007F 0 01\n")); err == nil {
		t.Error("a short line parsed")
	}
}

// A connected raw socket is listed with its peer and state, by raw
// sock_diag where the kernel has it, and from /proc/net/raw.
func TestList(t *testing.T) {
	crtest.RequireRoot(t)
	fd := rawSock(t, unix.AF_INET, 253)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 3}}); err != nil {
		t.Fatal(err)
	}
	check := func(name string, m map[uint32]*Diag) {
		d := m[ino(t, fd)]
		if d == nil || d.State != 1 || !bytes.Equal(d.Dst, []byte{127, 0, 0, 3}) {
			t.Errorf("%s: %+v", name, d)
		}
	}
	m, err := ListProc(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	check("/proc/net/raw", m)
	m, err = List(unix.AF_INET)
	if errors.Is(err, unix.ENOENT) {
		t.Skip("no raw sock_diag here (CONFIG_INET_RAW_DIAG)")
	}
	if err != nil {
		t.Fatal(err)
	}
	check("raw sock_diag", m)
}

// The raw options are read, set on a new socket of the same kind and
// read back the same: ICMP and ICMPv6 filters, IP_HDRINCL, IP_NODEFRAG,
// IPV6_HDRINCL.
func TestDumpSetOpts(t *testing.T) {
	crtest.RequireRoot(t)
	icmp := rawSock(t, unix.AF_INET, unix.IPPROTO_ICMP)
	if err := unix.SetsockoptInt(icmp, unix.SOL_RAW, unix.ICMP_FILTER, 1<<8); err != nil {
		t.Fatal(err)
	}
	udp := rawSock(t, unix.AF_INET, unix.IPPROTO_UDP)
	for _, o := range []int{unix.IP_HDRINCL, unix.IP_NODEFRAG} {
		if err := unix.SetsockoptInt(udp, unix.IPPROTO_IP, o, 1); err != nil {
			t.Fatal(err)
		}
	}
	icmp6 := rawSock(t, unix.AF_INET6, unix.IPPROTO_ICMPV6)
	f := &unix.ICMPv6Filter{Data: [8]uint32{0, 0, 0, 0, 1 << 0, 0, 0, 0xf}}
	if err := unix.SetsockoptICMPv6Filter(icmp6, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, f); err != nil {
		t.Fatal(err)
	}
	hdr6 := rawSock(t, unix.AF_INET6, 253)
	if err := unix.SetsockoptInt(hdr6, unix.IPPROTO_IPV6, unix.IPV6_HDRINCL, 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		fd, family, protocol int
	}{{icmp, unix.AF_INET, unix.IPPROTO_ICMP}, {udp, unix.AF_INET, unix.IPPROTO_UDP}, {icmp6, unix.AF_INET6, unix.IPPROTO_ICMPV6}, {hdr6, unix.AF_INET6, 253}} {
		r, err := DumpOpts(c.fd, c.family, c.protocol)
		if err != nil {
			t.Fatal(err)
		}
		if proto.Equal(r, dumpOptsNew(t, c.family, c.protocol)) {
			t.Errorf("family %d protocol %d: dumped %v, the same as a new socket's", c.family, c.protocol, r)
		}
		n := rawSock(t, c.family, c.protocol)
		if err := SetOpts(n, c.family, c.protocol, r); err != nil {
			t.Fatal(err)
		}
		if again, err := DumpOpts(n, c.family, c.protocol); err != nil || !proto.Equal(r, again) {
			t.Errorf("family %d protocol %d: set as %v (%v), want %v", c.family, c.protocol, again, err, r)
		}
	}
}

// dumpOptsNew is DumpOpts of a new socket of the kind.
func dumpOptsNew(t *testing.T, family, protocol int) *images.IpOptsRawEntry {
	t.Helper()
	r, err := DumpOpts(rawSock(t, family, protocol), family, protocol)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
