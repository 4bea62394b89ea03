package mcast

import (
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/errdefs"
)

func TestParse(t *testing.T) {
	v4 := "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n" +
		"1\tlo        :     2      V3\n" +
		"\t\t\t\t070707EF     1 0:00000000\t\t0\n" +
		"\t\t\t\t010000E0     1 0:00000000\t\t0\n" +
		"151\tcni-podman0:     1      V3\n" +
		"\t\t\t\t6A0000E0     1 0:00000000\t\t0\n"
	gs, err := parseIGMP([]byte(v4))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"239.7.7.7 on lo", "224.0.0.1 on lo", "224.0.0.106 on cni-podman0"}
	if len(gs) != len(want) || gs[2].Ifindex != 151 {
		t.Fatalf("igmp: %v", gs)
	}
	for i, g := range gs {
		if g.String() != want[i] {
			t.Errorf("igmp group %d: %s, want %s", i, g, want[i])
		}
	}
	gs, err = parseIGMP6([]byte("1    lo              ff150000000000000000000000000007     1 00000004 0\n"))
	if err != nil || len(gs) != 1 || gs[0].String() != "ff15::7 on lo" || gs[0].Ifindex != 1 {
		t.Fatalf("igmp6: %v %v", gs, err)
	}
	for _, bad := range []string{"h\n\t\t\t\t070707EF 1\n", "h\nx\tlo : 1\n", "h\n1\tlo : 1\n\t\tZZ 1\n"} {
		if _, err := parseIGMP([]byte(bad)); err == nil {
			t.Errorf("igmp %q parsed", bad)
		}
	}
	if _, err := parseIGMP6([]byte("1 lo ff15\n")); err == nil {
		t.Error("a short igmp6 group parsed")
	}
}

// inNetns runs f on a thread of its own in a new network namespace,
// which goes with the thread (never unlocked: it ends with the
// goroutine).
func inNetns(t *testing.T, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare(CLONE_NEWNET): %v", err)
			return
		}
		f()
	}()
	<-done
}

// TestRefuse: sockets that joined a group (UDP and raw IPv4, UDP IPv6,
// an IPv4 group of an IPv6 socket) are refused naming the group; one
// that did not, and a TCP socket, are not.
func TestRefuse(t *testing.T) {
	crtest.RequireRoot(t)
	inNetns(t, func() {
		// Not t.Fatalf: this is not the test's goroutine.
		fatalf := func(f string, a ...any) { t.Errorf(f, a...); runtime.Goexit() }
		sock := func(family, typ, proto int) int {
			fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, proto)
			if err != nil {
				fatalf("socket: %v", err)
			}
			t.Cleanup(func() { unix.Close(fd) })
			return fd
		}
		join4 := func(fd int, g string) {
			m := &unix.IPMreqn{Multiaddr: netip.MustParseAddr(g).As4(), Ifindex: 1}
			if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, m); err != nil {
				fatalf("IP_ADD_MEMBERSHIP %s: %v", g, err)
			}
		}
		udp, other, tcp := sock(unix.AF_INET, unix.SOCK_DGRAM, 0), sock(unix.AF_INET, unix.SOCK_DGRAM, 0), sock(unix.AF_INET, unix.SOCK_STREAM, 0)
		join4(udp, "239.7.7.7")
		rawsk := sock(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
		join4(rawsk, "239.7.7.9")
		udp6, mapped := sock(unix.AF_INET6, unix.SOCK_DGRAM, 0), sock(unix.AF_INET6, unix.SOCK_DGRAM, 0)
		m6 := &unix.IPv6Mreq{Multiaddr: netip.MustParseAddr("ff15::7").As16(), Interface: 1}
		if err := unix.SetsockoptIPv6Mreq(udp6, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, m6); err != nil {
			fatalf("IPV6_JOIN_GROUP: %v", err)
		}
		join4(mapped, "239.7.7.8")
		netDo := func(f func() error) error { return f() }
		var gs Groups
		for _, tc := range []struct {
			name       string
			fd, family int
			want       string
		}{
			{"UDP", udp, unix.AF_INET, "239.7.7.7 on lo"},
			{"raw", rawsk, unix.AF_INET, "239.7.7.9 on lo"},
			{"UDPv6", udp6, unix.AF_INET6, "ff15::7 on lo"},
			{"IPv4 group of IPv6", mapped, unix.AF_INET6, "239.7.7.8 on lo"},
			{"not joined", other, unix.AF_INET, ""},
			{"TCP", tcp, unix.AF_INET, ""},
		} {
			err := gs.Refuse(tc.fd, tc.family, netDo)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%s: %v", tc.name, err)
			case tc.want != "" && (!errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "joined multicast group "+tc.want+",")):
				t.Errorf("%s: %v, want a refusal naming %s", tc.name, err, tc.want)
			}
		}
	})
}
