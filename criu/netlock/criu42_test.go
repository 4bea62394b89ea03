package netlock

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/criugo/criu/criu/nsenter"
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

// TestCRIU42DeletesOurIPTablesLock: the host-flavor iptables lock of our
// dump is CRIU 4.2's rules, which its restore deletes by the commands
// netfilter.c runs (IPTABLES_CONN_CMD with -D, both ways): nothing of
// ours is left, and the kept lock's record sees its rules gone.
func TestCRIU42DeletesOurIPTablesLock(t *testing.T) {
	requireTool(t, IPTables)
	ns := nstest.Start(t, syscall.CLONE_NEWNET)
	ctx := context.Background()
	conns := []Conn{
		{Local: netip.MustParseAddrPort("127.0.0.1:4000"), Remote: netip.MustParseAddrPort("127.0.0.1:5000")},
		{Local: netip.MustParseAddrPort("127.0.0.1:5000"), Remote: netip.MustParseAddrPort("127.0.0.1:4000")},
		{Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:4001"), Remote: netip.MustParseAddrPort("[::ffff:127.0.0.1]:5001")},
		{Local: netip.MustParseAddrPort("[::1]:4002"), Remote: netip.MustParseAddrPort("[::1]:5002")},
	}
	var l *Lock
	err := nsenter.Do(ns, nsenter.Net, func() (err error) {
		l, err = LockConns(ctx, IPTables, "test-criu42-ipt", conns, testLog(t))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Keep(); err != nil {
		t.Fatal(err)
	}
	rules := func(tool string) string {
		out, err := run(ctx, &Task{Pid: ns}, nil, tool, "-w", "-S")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if n := strings.Count(rules("iptables"), "0xc114"); n != 6 {
		t.Fatalf("iptables has %d rules of the lock, want 6:\n%s", n, rules("iptables"))
	}
	// CRIU's restore, each socket's rules: sh -c "iptables -w -t filter -D
	// INPUT --protocol tcp -m mark ! --mark 0xC114 --source R --sport RP
	// --destination L --dport LP -j DROP", and OUTPUT the other way.
	for _, c := range conns {
		c = c.unmapped()
		tool := "iptables"
		if !c.Local.Addr().Is4() {
			tool = "ip6tables"
		}
		for _, w := range [][3]any{{"INPUT", c.Remote, c.Local}, {"OUTPUT", c.Local, c.Remote}} {
			src, dst := w[1].(netip.AddrPort), w[2].(netip.AddrPort)
			cmd := fmt.Sprintf("%s -w -t filter -D %s --protocol tcp -m mark ! --mark 0xC114 --source %s --sport %d --destination %s --dport %d -j DROP",
				tool, w[0], src.Addr(), src.Port(), dst.Addr(), dst.Port())
			if _, err := run(ctx, &Task{Pid: ns}, nil, "sh", "-c", cmd); err != nil {
				t.Fatalf("CRIU's unlock %q: %v", cmd, err)
			}
		}
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		if out := rules(tool); strings.Contains(out, "0xc114") || strings.Contains(out, "CRIU") {
			t.Errorf("%s keeps our lock after CRIU's unlock:\n%s", tool, out)
		}
	}
	r, err := readRecord(l.rec.path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.remove)
	err = nsenter.Do(ns, nsenter.Net, func() error {
		if !r.gone(ctx) {
			return fmt.Errorf("the record does not see its rules gone")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
