package netlock

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

// TestUnlockCRIUConns: the per-connection rules of CRIU 4.2's iptables
// lock (as netfilter.c inserts them) go, IPv4 and IPv6; other rules stay.
func TestUnlockCRIUConns(t *testing.T) {
	requireTool(t, IPTables)
	ns := &Task{Pid: nstest.Start(t, syscall.CLONE_NEWNET)}
	ctx := context.Background()
	conns := []Conn{
		{Local: netip.MustParseAddrPort("127.0.0.1:4000"), Remote: netip.MustParseAddrPort("127.0.0.1:5000")},
		{Local: netip.MustParseAddrPort("[::1]:4001"), Remote: netip.MustParseAddrPort("[::1]:5001")},
	}
	ipt := func(tool string, args ...string) string {
		t.Helper()
		out, err := run(ctx, ns, nil, tool, append([]string{"-w"}, args...)...)
		if err != nil {
			t.Fatalf("%s %v: %v", tool, args, err)
		}
		return out
	}
	for _, c := range conns {
		tool := "iptables"
		if !c.Local.Addr().Is4() {
			tool = "ip6tables"
		}
		for _, w := range [][3]any{{"INPUT", c.Remote, c.Local}, {"OUTPUT", c.Local, c.Remote}} {
			src, dst := w[1].(netip.AddrPort), w[2].(netip.AddrPort)
			ipt(tool, "-t", "filter", "-I", w[0].(string), "--protocol", "tcp", "-m", "mark", "!", "--mark", "0xC114",
				"--source", src.Addr().String(), "--sport", fmt.Sprint(src.Port()),
				"--destination", dst.Addr().String(), "--dport", fmt.Sprint(dst.Port()), "-j", "DROP")
		}
	}
	ipt("iptables", "-A", "INPUT", "-p", "tcp", "--dport", "7", "-j", "ACCEPT")
	unlockCRIUConns(ctx, ns, conns, testLog(t))
	for _, tool := range []string{"iptables", "ip6tables"} {
		if out := ipt(tool, "-S"); strings.Contains(out, "0xc114") {
			t.Errorf("%s still has CRIU's lock:\n%s", tool, out)
		}
	}
	if out := ipt("iptables", "-S", "INPUT"); !strings.Contains(out, "--dport 7 -j ACCEPT") {
		t.Errorf("another rule went:\n%s", out)
	}
	// Again: nothing left to delete is no failure.
	unlockCRIUConns(ctx, ns, conns, testLog(t))
}
