package netlock

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// chain is the iptables chain of the lock: CRIU-ID cut to the 28
// characters iptables allows in a name.
func (r *record) chain() string {
	c := "CRIU-" + r.ID
	if len(c) > 28 {
		c = c[:28]
	}
	return c
}

// iptables makes or deletes r's chain and its jumps from INPUT and
// OUTPUT, in iptables and ip6tables, each in one iptables-restore
// transaction (--noflush: the other rules stay).
func (r *record) iptables(ctx context.Context, lock bool, conns []Conn) error {
	var errs []error
	absent := 0
	for _, v6 := range []bool{false, true} {
		tool := "iptables-restore"
		if v6 {
			tool = "ip6tables-restore"
		}
		var b strings.Builder
		b.WriteString("*filter\n")
		ch := r.chain()
		if lock {
			fmt.Fprintf(&b, ":%s - [0:0]\n", ch)
			fmt.Fprintf(&b, "-A %s -m mark --mark %#x -m comment --comment %q -j ACCEPT\n", ch, Mark, r.comment())
			if r.NS != nil {
				fmt.Fprintf(&b, "-A %s -j DROP\n", ch)
			}
			for _, c := range conns {
				c = c.unmapped()
				if c.Local.Addr().Is4() == v6 {
					continue
				}
				for _, d := range [][2]netip.AddrPort{{c.Local, c.Remote}, {c.Remote, c.Local}} {
					fmt.Fprintf(&b, "-A %s -p tcp -s %s --sport %d -d %s --dport %d -j DROP\n", ch, d[0].Addr(), d[0].Port(), d[1].Addr(), d[1].Port())
				}
			}
			fmt.Fprintf(&b, "-I INPUT -j %s\n-I OUTPUT -j %s\n", ch, ch)
		} else {
			if _, err := run(ctx, r.NS, nil, strings.TrimSuffix(tool, "-restore"), "-w", "-n", "-L", ch); err != nil {
				absent++
				continue // never made in this family, or already gone
			}
			fmt.Fprintf(&b, "-D INPUT -j %s\n-D OUTPUT -j %s\n-F %s\n-X %s\n", ch, ch, ch, ch)
		}
		b.WriteString("COMMIT\n")
		if _, err := run(ctx, r.NS, []byte(b.String()), tool, "-w", "--noflush"); err != nil {
			errs = append(errs, err)
		}
	}
	if absent == 2 {
		return errAbsent
	}
	return errors.Join(errs...)
}

// unlockCRIUConns deletes the rules CRIU 4.2's iptables lock of the host
// flavor puts in INPUT and OUTPUT for each connection and way
// (netfilter.c: "-m mark ! --mark 0xC114 --source A --sport P
// --destination B --dport Q -j DROP"), when a restore of its images
// lets the connections talk. A rule that is not there (a dump of
// another host) is no error. ns is nil for this network namespace.
func unlockCRIUConns(ctx context.Context, ns *Task, conns []Conn, log zerolog.Logger) {
	for _, c := range conns {
		c = c.unmapped()
		tool := "iptables"
		if !c.Local.Addr().Is4() {
			tool = "ip6tables"
		}
		for _, w := range []struct {
			chain    string
			src, dst netip.AddrPort
		}{{"INPUT", c.Remote, c.Local}, {"OUTPUT", c.Local, c.Remote}} {
			_, err := run(ctx, ns, nil, tool, "-w", "-t", "filter", "-D", w.chain, "--protocol", "tcp",
				"-m", "mark", "!", "--mark", fmt.Sprintf("%#x", Mark),
				"--source", w.src.Addr().String(), "--sport", strconv.Itoa(int(w.src.Port())),
				"--destination", w.dst.Addr().String(), "--dport", strconv.Itoa(int(w.dst.Port())), "-j", "DROP")
			if err == nil {
				log.Info().Str("chain", w.chain).Str("src", w.src.String()).Str("dst", w.dst.String()).Msg("removed CRIU's lock of a connection")
			}
		}
	}
}
