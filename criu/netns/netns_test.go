package netns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/nsenter/nstest"
	"github.com/criugo/criu/proto/images"
)

// requireNet skips t unless it runs as root with the ip tool.
func requireNet(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for setns)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip tool (iproute2)")
	}
}

// testNS is a named network namespace made with `ip netns add` for one
// test, deleted (with its links) when the test ends.
type testNS struct {
	name string
	ns   *Namespace
}

func newTestNS(t *testing.T, tag string) *testNS {
	t.Helper()
	name := fmt.Sprintf("criugo-%s-%d", tag, os.Getpid())
	ip(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ns, err := Open(filepath.Join("/run/netns", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return &testNS{name: name, ns: ns}
}

// ip runs the ip tool on the host and fails t on error.
func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// in runs `ip -n NS args...`.
func (n *testNS) ip(t *testing.T, args ...string) string {
	t.Helper()
	return ip(t, append([]string{"-n", n.name}, args...)...)
}

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
}

// configure gives src the configuration the tests save: lo up, a veth
// v0 (peer p0 up in outer) with MTU 1400, an IPv4 and an IPv6 address,
// a route via it in each family, and a policy rule with its own table.
func configure(t *testing.T, src, outer *testNS) {
	t.Helper()
	outer.ip(t, "link", "add", "name", "p0", "type", "veth", "peer", "name", "v0", "netns", src.name)
	outer.ip(t, "link", "set", "dev", "p0", "up")
	src.ip(t, "link", "set", "dev", "lo", "up")
	src.ip(t, "link", "set", "dev", "v0", "mtu", "1400", "up")
	src.ip(t, "addr", "add", "198.18.5.1/24", "dev", "v0")
	src.ip(t, "addr", "add", "2001:db8:5::1/64", "dev", "v0", "nodad")
	src.ip(t, "route", "add", "198.18.6.0/24", "via", "198.18.5.2")
	src.ip(t, "-6", "route", "add", "2001:db8:6::/64", "via", "2001:db8:5::2")
	src.ip(t, "rule", "add", "from", "198.18.7.0/24", "lookup", "100")
	src.ip(t, "-6", "rule", "add", "from", "2001:db8:7::/64", "lookup", "100", "pref", "1000")
	src.ip(t, "route", "add", "198.18.8.0/24", "via", "198.18.5.3", "table", "100")
	src.sysctl(t, testSysctls)
}

// testSysctls are set away from their defaults by configure.
var testSysctls = map[string]string{
	"net/ipv4/conf/all/forwarding":       "1",
	"net/ipv4/conf/default/rp_filter":    "2",
	"net/ipv6/conf/default/hop_limit":    "42",
	"net/ipv6/conf/all/accept_redirects": "0",
	"net/unix/max_dgram_qlen":            "123",
	"net/ipv4/ping_group_range":          "0 100",
	// Per device (netdev-N.img). v0 is made at restore after
	// default/rp_filter is back at 2, so its 1 must be set again.
	"net/ipv4/conf/v0/rp_filter":  "1",
	"net/ipv4/conf/v0/arp_ignore": "1",
	"net/ipv6/conf/v0/hop_limit":  "33",
}

// sysctl sets each /proc/sys/NAME to its value inside n.
func (n *testNS) sysctl(t *testing.T, vals map[string]string) {
	t.Helper()
	err := n.ns.do(func() error {
		for name, v := range vals {
			if err := os.WriteFile("/proc/sys/"+name, []byte(v), 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sysctls reads each /proc/sys/NAME of vals inside n.
func (n *testNS) sysctls(t *testing.T, vals map[string]string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := n.ns.do(func() error {
		for name := range vals {
			b, err := os.ReadFile("/proc/sys/" + name)
			if err != nil {
				return err
			}
			got[name] = strings.Join(strings.Fields(string(b)), " ")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// snapshot is the comparable configuration of a namespace: `ip -j`
// output with ifindex-dependent and dynamic fields left out.
type snapshot struct {
	Links, Addrs, Routes, Rules []string
}

func (n *testNS) snapshot(t *testing.T) snapshot {
	t.Helper()
	var s snapshot
	var links []struct {
		Name    string   `json:"ifname"`
		Flags   []string `json:"flags"`
		MTU     int      `json:"mtu"`
		Address string   `json:"address"`
		Addrs   []struct {
			Family string `json:"family"`
			Local  string `json:"local"`
			Prefix int    `json:"prefixlen"`
			Scope  string `json:"scope"`
		} `json:"addr_info"`
	}
	unmarshal(t, n.ip(t, "-j", "addr", "show"), &links)
	for _, l := range links {
		s.Links = append(s.Links, fmt.Sprintf("%s mtu %d up %v %s", l.Name, l.MTU, slices.Contains(l.Flags, "UP"), l.Address))
		for _, a := range l.Addrs {
			s.Addrs = append(s.Addrs, fmt.Sprintf("%s %s %s/%d scope %s", l.Name, a.Family, a.Local, a.Prefix, a.Scope))
		}
	}
	for _, fam := range []string{"-4", "-6"} {
		var routes []map[string]any
		unmarshal(t, n.ip(t, "-j", fam, "route", "show", "table", "all"), &routes)
		for _, r := range routes {
			delete(r, "flags") // linkdown, offload: link state
			delete(r, "expires")
			s.Routes = append(s.Routes, fam+" "+canon(t, r))
		}
	}
	for _, fam := range []string{"-4", "-6"} {
		var rules []map[string]any
		unmarshal(t, n.ip(t, "-j", fam, "rule", "show"), &rules)
		for _, r := range rules {
			s.Rules = append(s.Rules, fam+" "+canon(t, r))
		}
	}
	slices.Sort(s.Addrs)
	slices.Sort(s.Routes)
	return s
}

func unmarshal(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("parse %q: %v", out, err)
	}
}

// canon is m as JSON with sorted keys.
func canon(t *testing.T, m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compare(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s differ\n got: %s\nwant: %s", what, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func compareSnapshots(t *testing.T, got, want snapshot) {
	t.Helper()
	compare(t, "links", got.Links, want.Links)
	compare(t, "addresses", got.Addrs, want.Addrs)
	compare(t, "routes", got.Routes, want.Routes)
	compare(t, "rules", got.Rules, want.Rules)
}

// dumpRestore configures a source netns, dumps it into store, restores
// it into a fresh netns through restoreStore and compares the two.
func dumpRestore(t *testing.T, store, restoreStore image.Store) {
	ctx := context.Background()
	src, outer := newTestNS(t, "src"), newTestNS(t, "outer")
	dst, outer2 := newTestNS(t, "dst"), newTestNS(t, "outer2")
	configure(t, src, outer)
	want := src.snapshot(t)
	t.Logf("source:\n%s\n%s\n%s\n%s", strings.Join(want.Links, "\n"), strings.Join(want.Addrs, "\n"),
		strings.Join(want.Routes, "\n"), strings.Join(want.Rules, "\n"))
	// The comparison below means something only if the source has it all.
	for _, c := range []struct {
		what string
		in   []string
		sub  string
	}{
		{"links", want.Links, "v0 mtu 1400 up true"},
		{"addresses", want.Addrs, "v0 inet 198.18.5.1/24"},
		{"addresses", want.Addrs, "v0 inet6 2001:db8:5::1/64"},
		{"routes", want.Routes, `"dst":"198.18.6.0/24","gateway":"198.18.5.2"`},
		{"routes", want.Routes, `"dst":"198.18.8.0/24","gateway":"198.18.5.3","table":"100"`},
		{"routes", want.Routes, `"dst":"2001:db8:6::/64","gateway":"2001:db8:5::2"`},
		{"rules", want.Rules, `"src":"198.18.7.0","srclen":24,"table":"100"`},
		{"rules", want.Rules, `"src":"2001:db8:7::","srclen":64,"table":"100"`},
	} {
		if !slices.ContainsFunc(c.in, func(s string) bool { return strings.Contains(s, c.sub) }) {
			t.Fatalf("source %s lack %s:\n%s", c.what, c.sub, strings.Join(c.in, "\n"))
		}
	}

	// v0's peer is outside: dumped with no name for it, as CRIU does.
	if err := Dump(ctx, store, src.ns, 7, DumpOptions{}, testLog(t)); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	opts := RestoreOptions{Veth: map[string]string{"v0": "p0"}, PeerNS: outer2.ns}
	if err := Restore(ctx, restoreStore, dst.ns, 7, opts, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	// The peer is left down by Restore; the source's was up.
	outer2.ip(t, "link", "set", "dev", "p0", "up")
	compareSnapshots(t, dst.snapshot(t), want)
	if got := dst.sysctls(t, testSysctls); !maps.Equal(got, testSysctls) {
		t.Errorf("restored sysctls %v, want %v", got, testSysctls)
	}
}

func TestDumpRestore(t *testing.T) {
	requireNet(t)
	dir := nstest.Dir(t)
	dumpRestore(t, dir, dir)
	for _, name := range []string{"ifaddr-7.img", "route-7.img", "route6-7.img", "rule-7.img", "rule6-7.img", "iplinks-7.img", "netdev-7.img", "netns-7.img"} {
		if _, ok := image.LookupKind(name); !ok {
			t.Errorf("%s: no image kind", name)
		}
		if st, err := os.Stat(filepath.Join(dir.Path(), name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v (size %v)", name, err, st)
		}
	}
	devs := netdevs(t, dir, 7)
	lo, v0 := devs["lo"], devs["v0"]
	if lo == nil || v0 == nil || len(devs) != 2 {
		t.Fatalf("netdev-7.img: %v", devs)
	}
	if lo.GetType() != images.NdType_LOOPBACK || lo.Address != nil || lo.GetFlags()&unix.IFF_UP == 0 {
		t.Errorf("lo: %v", lo)
	}
	if v0.GetType() != images.NdType_VETH || v0.GetMtu() != 1400 || len(v0.GetAddress()) != 6 ||
		v0.GetFlags()&unix.IFF_UP == 0 || v0.PeerNsid != nil || v0.GetPeerIfindex() == 0 {
		t.Errorf("v0 (peer outside): %v", v0)
	}
	// crit reads both CRIU images the same way.
	if _, err := exec.LookPath("crit"); err == nil {
		for _, name := range []string{"netdev-7.img", "netns-7.img"} {
			path := filepath.Join(dir.Path(), name)
			out, err := exec.Command("crit", "decode", "-i", path).Output()
			if err != nil {
				t.Fatalf("crit decode %s: %v", name, err)
			}
			ours, err := image.DecodeFileJSON(path, "")
			if err != nil {
				t.Fatal(err)
			}
			var theirs, mine struct{ Entries []map[string]any }
			if json.Unmarshal(out, &theirs) != nil || json.Unmarshal(ours, &mine) != nil || len(theirs.Entries) != len(mine.Entries) {
				t.Fatalf("%s: crit shows %s\nwe show %s", name, out, ours)
			}
			for i, e := range theirs.Entries {
				for k, v := range e {
					if k == "ipv4_sysctl" { // newer than crit 3.17's schema
						continue
					}
					// crit breaks base64 into lines.
					if strings.ReplaceAll(fmt.Sprint(v), "\n", "") != fmt.Sprint(mine.Entries[i][k]) {
						t.Errorf("%s entry %d %s: crit %v, we %v", name, i, k, v, mine.Entries[i][k])
					}
				}
			}
		}
	}
}

// netdevs reads netdev-ID.img by link name.
func netdevs(t *testing.T, s image.Store, id uint32) map[string]*images.NetDeviceEntry {
	t.Helper()
	msgs, err := image.ReadAll(context.Background(), s, netdevImage(id), func() proto.Message { return &images.NetDeviceEntry{} })
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*images.NetDeviceEntry{}
	for _, m := range msgs {
		e := m.(*images.NetDeviceEntry)
		out[e.GetName()] = e
	}
	return out
}

// pipeStore serves every image through an os.Pipe, as a remote store
// serves a socket: readers that cannot seek.
type pipeStore struct{ image.Store }

func (s pipeStore) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := s.Store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		r.Close()
		return nil, err
	}
	go func() {
		io.Copy(pw, r) // a short copy shows up as a short image
		r.Close()
		pw.Close()
	}()
	if _, err := pr.Seek(0, io.SeekCurrent); !errors.Is(err, unix.ESPIPE) {
		t := err
		pr.Close()
		return nil, fmt.Errorf("pipe is seekable? %v", t)
	}
	return pr, nil
}

func TestRestoreFromPipes(t *testing.T) {
	requireNet(t)
	dir := nstest.Dir(t)
	dumpRestore(t, dir, pipeStore{dir})
}

func TestRestoreBadImage(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	// Only lo in the links image, then an address image the tool rejects.
	dir := nstest.Dir(t)
	if err := writeImage(ctx, dir, "iplinks-3.img", []byte(`{"version":1,"links":[{"index":1,"name":"lo","kind":"loopback","mtu":65536,"up":true}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := writeImage(ctx, dir, "ifaddr-3.img", []byte("this is not an ip addr dump\n")); err != nil {
		t.Fatal(err)
	}
	dst := newTestNS(t, "bad")
	err := Restore(ctx, dir, dst.ns, 3, RestoreOptions{}, testLog(t))
	var te *ToolError
	if !errors.As(err, &te) {
		t.Fatalf("Restore = %v, want a ToolError", err)
	}
	if te.Stderr == "" || !strings.Contains(err.Error(), strings.TrimSpace(te.Stderr)) {
		t.Errorf("error %q does not carry the tool's stderr %q", err, te.Stderr)
	}
	if !strings.Contains(err.Error(), "ifaddr-3.img") {
		t.Errorf("error %q does not name the image", err)
	}
	t.Logf("error: %v", err)

	// A route image is read (its linkdown flags cleared) before ip
	// sees it: garbage is a bad image, named.
	dir = nstest.Dir(t)
	if err := writeImage(ctx, dir, "iplinks-3.img", []byte(`{"version":1,"links":[{"index":1,"name":"lo","kind":"loopback","mtu":65536,"up":true}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := writeImage(ctx, dir, "route-3.img", []byte("this is not an ip route dump\n")); err != nil {
		t.Fatal(err)
	}
	dst = newTestNS(t, "bad2")
	err = Restore(ctx, dir, dst.ns, 3, RestoreOptions{}, testLog(t))
	if !errors.Is(err, ErrBadImage) || !strings.Contains(err.Error(), "route-3.img") {
		t.Errorf("bad route image: %v, want ErrBadImage naming route-3.img", err)
	}
}

func TestRestoreVethWithoutPeerName(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	dir := nstest.Dir(t)
	if err := writeImage(ctx, dir, "iplinks-4.img", []byte(`{"version":1,"links":[{"index":1,"name":"lo","kind":"loopback","mtu":65536,"up":true},{"index":2,"name":"v0","kind":"veth","mtu":1500,"up":true}]}`)); err != nil {
		t.Fatal(err)
	}
	dst := newTestNS(t, "noveth")
	if err := Restore(ctx, dir, dst.ns, 4, RestoreOptions{}, testLog(t)); !errors.Is(err, ErrNoVethPeer) {
		t.Fatalf("Restore = %v, want ErrNoVethPeer", err)
	}
}

// The ip tool started by tool.run lives in the namespace it was given.
func TestRunsInNamespace(t *testing.T) {
	requireNet(t)
	n := newTestNS(t, "self")
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join("/run/netns", n.name), &st); err != nil {
		t.Fatal(err)
	}
	for range 3 { // fresh threads each time
		out, err := tool{path: "readlink", ns: n.ns}.output(context.Background(), "/proc/self/ns/net")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(string(out)), fmt.Sprintf("net:[%d]", st.Ino); got != want {
			t.Fatalf("child in %s, want %s", got, want)
		}
	}
	// And this process did not move.
	self, _ := os.Readlink("/proc/thread-self/ns/net")
	if self == fmt.Sprintf("net:[%d]", st.Ino) {
		t.Fatal("calling thread left in the test namespace")
	}
}

func TestToolErrorCarriesStderr(t *testing.T) {
	requireNet(t)
	n := newTestNS(t, "err")
	err := tool{path: "ip", ns: n.ns}.run(context.Background(), "link", "set", "dev", "nosuchdev0", "up")
	var te *ToolError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "nosuchdev0") {
		t.Fatalf("err = %v, want a ToolError naming the device", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Errorf("err = %v does not unwrap to *exec.ExitError", err)
	}
}

// Why restore copies images first: `ip route restore` fails on a pipe.
func TestRouteRestoreNeedsSeekableStdin(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	n := newTestNS(t, "pipe")
	dump, err := tool{path: "ip", ns: n.ns}.output(ctx, "route", "save", "table", "all")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go func() { pw.Write(dump); pw.Close() }()
	err = tool{path: "ip", ns: n.ns}.runFiles(ctx, pr, nil, nil, "route", "restore")
	var te *ToolError
	if !errors.As(err, &te) || !strings.Contains(te.Stderr, "ftell") {
		t.Skipf("this ip tool restores from a pipe (err %v): the seekable copy is only a precaution", err)
	}
}

// A dummy link is recreated with its index, address, MTU and addresses.
// Kernels built without CONFIG_DUMMY (this VM's) skip it.
func TestDumpRestoreDummy(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	src, dst := newTestNS(t, "dsrc"), newTestNS(t, "ddst")
	if out, err := exec.Command("ip", "-n", src.name, "link", "add", "name", "d0", "mtu", "1400", "type", "dummy").CombinedOutput(); err != nil {
		if strings.Contains(string(out), "Unknown device type") {
			t.Skipf("no dummy links in this kernel: %v: %s", err, out)
		}
		t.Fatalf("ip link add type dummy: %v: %s", err, out)
	}
	src.ip(t, "link", "set", "dev", "lo", "up")
	src.ip(t, "link", "set", "dev", "d0", "up")
	src.ip(t, "addr", "add", "198.18.5.1/24", "dev", "d0")
	src.ip(t, "addr", "add", "2001:db8:5::1/64", "dev", "d0", "nodad")
	src.ip(t, "route", "add", "198.18.6.0/24", "via", "198.18.5.2")
	want := src.snapshot(t)
	dir := nstest.Dir(t)
	if err := Dump(ctx, dir, src.ns, 1, DumpOptions{}, testLog(t)); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	if err := Restore(ctx, dir, dst.ns, 1, RestoreOptions{}, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	compareSnapshots(t, dst.snapshot(t), want)
}

// A veth pair with both ends in the namespace needs no external names:
// it is recreated there with both indexes, addresses and MTUs.
func TestDumpRestoreVethPairInside(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	src, dst := newTestNS(t, "psrc"), newTestNS(t, "pdst")
	src.ip(t, "link", "add", "name", "a0", "mtu", "1400", "type", "veth", "peer", "name", "a1", "mtu", "1300")
	src.ip(t, "link", "add", "name", "b0", "type", "veth", "peer", "name", "b1")
	src.ip(t, "link", "set", "dev", "lo", "up")
	src.ip(t, "link", "set", "dev", "a0", "up")
	src.ip(t, "link", "set", "dev", "a1", "up")
	src.ip(t, "link", "set", "dev", "b1", "up") // b0 stays down
	src.ip(t, "addr", "add", "198.18.9.1/24", "dev", "a0")
	src.ip(t, "addr", "add", "198.18.9.2/24", "dev", "a1")
	want := src.snapshot(t)
	dir := nstest.Dir(t)
	if err := Dump(ctx, dir, src.ns, 2, DumpOptions{}, testLog(t)); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	links, err := readLinks(ctx, dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	peers := map[string]string{}
	for _, l := range links {
		peers[l.Name] = l.Peer
	}
	if peers["a0"] != "a1" || peers["a1"] != "a0" || peers["b0"] != "b1" || peers["b1"] != "b0" {
		t.Fatalf("peers in the image: %v", peers)
	}
	devs := netdevs(t, dir, 2)
	srcLinks := src.ip(t, "-o", "link", "show")
	for in, peer := range map[string]string{"a0": "a1", "a1": "a0", "b0": "b1", "b1": "b0"} {
		e := devs[in]
		if e.GetType() != images.NdType_VETH || e.GetPeerNsid() != 2 || strconv.Itoa(int(e.GetPeerIfindex())) != ifindex(t, srcLinks, peer) {
			t.Errorf("netdev-2.img %s (peer %s inside): %v", in, peer, e)
		}
	}
	if err := Restore(ctx, dir, dst.ns, 2, RestoreOptions{}, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	compareSnapshots(t, dst.snapshot(t), want)
	srcIdx, dstIdx := src.ip(t, "-o", "link", "show"), dst.ip(t, "-o", "link", "show")
	for _, name := range []string{"a0", "a1", "b0", "b1"} {
		if a, b := ifindex(t, srcIdx, name), ifindex(t, dstIdx, name); a != b {
			t.Errorf("%s: ifindex %s, was %s", name, b, a)
		}
	}
}

// ifindex finds the index of link name in `ip -o link show` output.
func ifindex(t *testing.T, out, name string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && (f[1] == name+":" || strings.HasPrefix(f[1], name+"@")) {
			return strings.TrimSuffix(f[0], ":")
		}
	}
	t.Fatalf("no link %s in\n%s", name, out)
	return ""
}

// Routes through a link without carrier at dump time (its veth peer
// outside is down) are saved with RTNH_F_LINKDOWN, which the kernel
// refuses in a new route: Dump clears it, and they come back; Restore
// clears it from CRIU 4.2's images, which keep it.
func TestDumpRestoreLinkDown(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	src, outer := newTestNS(t, "src"), newTestNS(t, "outer")
	dst, outer2 := newTestNS(t, "dst"), newTestNS(t, "outer2")
	configure(t, src, outer)
	want := src.snapshot(t)
	outer.ip(t, "link", "set", "dev", "p0", "down")
	// The carrier change reaches the routes through the kernel's link
	// watch, which runs up to a second later.
	for i := 0; ; i++ {
		out := src.ip(t, "route", "show", "198.18.6.0/24")
		if strings.Contains(out, "linkdown") {
			break
		}
		if i == 50 {
			t.Fatalf("route via v0 with its peer down is not linkdown: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	store := nstest.Dir(t)
	if err := Dump(ctx, store, src.ns, 7, DumpOptions{}, testLog(t)); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	opts := RestoreOptions{Veth: map[string]string{"v0": "p0"}, PeerNS: outer2.ns}
	if err := Restore(ctx, store, dst.ns, 7, opts, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	outer2.ip(t, "link", "set", "dev", "p0", "up")
	compareSnapshots(t, dst.snapshot(t), want)

	// CRIU 4.2 saves the routes as ip prints them, linkdown flag and
	// local table in: Restore clears and drops them too.
	raw := src.ip(t, "-4", "route", "save", "table", "all")
	if err := writeImage(ctx, store, routeImage(7), []byte(raw)); err != nil {
		t.Fatal(err)
	}
	dst3, outer3 := newTestNS(t, "dst3"), newTestNS(t, "outer3")
	opts.PeerNS = outer3.ns
	if err := Restore(ctx, store, dst3.ns, 7, opts, testLog(t)); err != nil {
		t.Fatalf("Restore of a route image with linkdown routes: %v", err)
	}
	outer3.ip(t, "link", "set", "dev", "p0", "up")
	compareSnapshots(t, dst3.snapshot(t), want)
}

// dumpConfigured dumps a namespace configured as configure does (v0's
// peer outside) as id 7 into a new store, and returns what it had.
func dumpConfigured(t *testing.T) (snapshot, image.Store) {
	t.Helper()
	src, outer := newTestNS(t, "src"), newTestNS(t, "outer")
	configure(t, src, outer)
	want := src.snapshot(t)
	store := nstest.Dir(t)
	if err := Dump(context.Background(), store, src.ns, 7, DumpOptions{}, testLog(t)); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return want, store
}

// A veth whose peer was outside, restored with CRIU's
// veth[v0]:p0@br0: the peer is made in PeerNS, attached to the bridge
// br0 there and up, and the restored namespace answers on its address
// through the bridge. With a bridge that is not there, Restore fails
// naming it and leaves neither end behind.
func TestRestoreVethOnBridge(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	want, store := dumpConfigured(t)

	dst, host := newTestNS(t, "dst"), newTestNS(t, "host")
	host.ip(t, "link", "add", "name", "br0", "type", "bridge")
	host.ip(t, "addr", "add", "198.18.5.2/24", "dev", "br0")
	host.ip(t, "link", "set", "dev", "br0", "up")
	opts := RestoreOptions{Veth: map[string]string{"v0": "p9@br0"}, PeerNS: host.ns}
	if err := Restore(ctx, store, dst.ns, 7, opts, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	var p9 []struct {
		Flags  []string `json:"flags"`
		Master string   `json:"master"`
	}
	if err := json.Unmarshal([]byte(host.ip(t, "-j", "link", "show", "dev", "p9")), &p9); err != nil || len(p9) != 1 {
		t.Fatalf("p9: %v %v", p9, err)
	}
	if p9[0].Master != "br0" || !slices.Contains(p9[0].Flags, "UP") {
		t.Errorf("the peer p9 is %+v, want up with master br0", p9[0])
	}
	compareSnapshots(t, dst.snapshot(t), want)

	// A TCP connection from the bridge's namespace to v0's address.
	var ln net.Listener
	if err := dst.ns.Do(func() (err error) { ln, err = net.Listen("tcp4", "198.18.5.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	var got []byte
	err := host.ns.Do(func() error {
		c, err := net.DialTimeout("tcp4", ln.Addr().String(), 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		got, err = io.ReadAll(c)
		return err
	})
	if err != nil || string(got) != "hello\n" {
		t.Errorf("through br0 to the restored v0: %q %v", got, err)
	}

	dst2 := newTestNS(t, "dst2")
	opts.Veth = map[string]string{"v0": "p8@nobr0"}
	err = Restore(ctx, store, dst2.ns, 7, opts, testLog(t))
	if err == nil || !strings.Contains(err.Error(), "nobr0") {
		t.Fatalf("Restore onto a missing bridge: %v, want an error naming nobr0", err)
	}
	t.Logf("error: %v", err)
	if out := host.ip(t, "-o", "link", "show"); strings.Contains(out, "p8") {
		t.Errorf("the peer p8 is left behind:\n%s", out)
	}
	if out := dst2.ip(t, "-o", "link", "show"); strings.Contains(out, "v0") {
		t.Errorf("v0 is left behind:\n%s", out)
	}
}

// TestRestoreMovedDevice: with --external netdev[v0]:DEV the veth whose
// peer was outside is not made: DEV, made beforehand with its own peer,
// is moved in as v0 with v0's index, MTU and address, and the addresses
// and routes, which name the link by its index, come back on it.
func TestRestoreMovedDevice(t *testing.T) {
	requireNet(t)
	if err := ProbeNewIfindex(); err != nil {
		t.Skipf("kernel: %v", err)
	}
	ctx := context.Background()
	want, store := dumpConfigured(t)
	dst, host := newTestNS(t, "dst"), newTestNS(t, "host")
	// The new device's index in host is not v0's, nor is its name.
	host.ip(t, "link", "add", "name", "pre1", "type", "veth", "peer", "name", "pre2")
	host.ip(t, "link", "add", "name", "pre0", "type", "veth", "peer", "name", "hpeer0")
	opts := RestoreOptions{Veth: map[string]string{"v0": movedPrefix + "pre0"}, PeerNS: host.ns}
	if err := Restore(ctx, store, dst.ns, 7, opts, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if out := host.ip(t, "-o", "link", "show"); strings.Contains(out, "pre0") || !strings.Contains(out, "hpeer0") {
		t.Errorf("host after the move (pre0 gone, its peer hpeer0 kept):\n%s", out)
	}
	host.ip(t, "link", "set", "dev", "hpeer0", "up") // the source's peer was up
	compareSnapshots(t, dst.snapshot(t), want)

	// A device that is not there: an error naming it, nothing left.
	dst2 := newTestNS(t, "dst2")
	opts.Veth = map[string]string{"v0": movedPrefix + "nodev9"}
	err := Restore(ctx, store, dst2.ns, 7, opts, testLog(t))
	if err == nil || !strings.Contains(err.Error(), "nodev9") {
		t.Fatalf("Restore moving a missing device: %v, want an error naming nodev9", err)
	}
	if out := dst2.ip(t, "-o", "link", "show"); strings.Contains(out, "v0") {
		t.Errorf("v0 is left behind:\n%s", out)
	}
}

// CRIU's images have no iplinks-N.img: the links come from its
// netdev-N.img, the same as from ours (a veth whose peer is outside, a
// pair inside, lo), and the namespace is restored from them.
func TestRestoreFromNetdev(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	src, outer := newTestNS(t, "nsrc"), newTestNS(t, "nouter")
	configure(t, src, outer)
	src.ip(t, "link", "add", "name", "a0", "mtu", "1400", "type", "veth", "peer", "name", "a1")
	src.ip(t, "link", "set", "dev", "a0", "up")
	want := src.snapshot(t)
	dir := nstest.Dir(t)
	if err := Dump(ctx, dir, src.ns, 7, DumpOptions{}, testLog(t)); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	ours, err := readLinks(ctx, dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir.Path(), linksImage(7))); err != nil {
		t.Fatal(err)
	}
	got, err := readLinks(ctx, dir, 7)
	if err != nil || !reflect.DeepEqual(got, ours) {
		t.Fatalf("links from netdev-7.img %+v (%v), from iplinks-7.img %+v", got, err, ours)
	}
	dst, outer2 := newTestNS(t, "ndst"), newTestNS(t, "nouter2")
	opts := RestoreOptions{Veth: map[string]string{"v0": "p0"}, PeerNS: outer2.ns}
	if err := Restore(ctx, dir, dst.ns, 7, opts, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	outer2.ip(t, "link", "set", "dev", "p0", "up")
	compareSnapshots(t, dst.snapshot(t), want)
}

// Devices of netdev-N.img that Restore cannot make are refused by name.
func TestLinksFromNetdevRefuses(t *testing.T) {
	dev := func(name string, idx uint32, typ images.NdType) *images.NetDeviceEntry {
		return &images.NetDeviceEntry{Name: proto.String(name), Ifindex: proto.Uint32(idx), Mtu: proto.Uint32(1500), Flags: proto.Uint32(0), Type: typ.Enum()}
	}
	lo := dev("lo", 1, images.NdType_LOOPBACK)
	tun := dev("tun0", 2, images.NdType_TUN)
	sit := dev("sit1", 5, images.NdType_SIT)
	other := dev("v1", 3, images.NdType_VETH)
	other.PeerIfindex, other.PeerNsid = proto.Uint32(9), proto.Uint32(8)
	port := dev("p0", 4, images.NdType_VETH)
	port.PeerIfindex, port.Master = proto.Uint32(3), proto.Uint32(1)
	for _, c := range []struct {
		devs []*images.NetDeviceEntry
		want error
		name string
	}{
		{[]*images.NetDeviceEntry{lo, tun}, ErrBadImage, "tun0"}, // no tun_link_entry
		{[]*images.NetDeviceEntry{lo, dev("x0", 2, images.NdType_EXTLINK)}, ErrUnsupportedLink, "x0"},
		{[]*images.NetDeviceEntry{lo, sit}, ErrUnsupportedLink, "sit1"},
		{[]*images.NetDeviceEntry{lo, other}, ErrBadImage, "v1"},
		{[]*images.NetDeviceEntry{lo, port}, ErrBadImage, "p0"},
		{[]*images.NetDeviceEntry{dev("a/b", 1, images.NdType_LOOPBACK)}, ErrBadImage, "a/b"},
	} {
		_, err := linksFromNetdev(c.devs, 7)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("linksFromNetdev with %s: %v, want %v naming it", c.name, err, c.want)
		}
	}
	if l, err := linksFromNetdev([]*images.NetDeviceEntry{lo}, 7); err != nil || len(l) != 1 || l[0].Kind != KindLoopback {
		t.Errorf("lo alone: %v %v", l, err)
	}
}
