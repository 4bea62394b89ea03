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

// iptables makes or deletes r's rules, in iptables and ip6tables. The
// host flavor (NS nil) has CRIU 4.2's rules, a pair per connection in
// INPUT and OUTPUT (criuRule), made in one iptables-restore transaction
// per family (--noflush: the other rules stay) and deleted one by one:
// CRIU's restore of our images deletes them so, and ours deletes those
// of its dumps. The netns flavor is a chain CRIU-ID jumped to from
// INPUT and OUTPUT, made and deleted in one transaction per family (a
// host-flavor lock of an older criu of ours, which has no conns in its
// record, is such a chain too).
func (r *record) iptables(ctx context.Context, lock bool, conns []Conn) error {
	if r.NS == nil && lock {
		return r.iptablesConns(ctx, conns)
	}
	if r.NS == nil && r.Conns != nil {
		if unlockCRIUConns(ctx, nil, r.Conns, zerolog.Nop()) == 0 {
			return errAbsent
		}
		return nil
	}
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
			fmt.Fprintf(&b, "-A %s -j DROP\n", ch)
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

// iptablesConns inserts the host-flavor rules of conns, each family in
// one transaction.
func (r *record) iptablesConns(ctx context.Context, conns []Conn) error {
	for _, v6 := range []bool{false, true} {
		var b strings.Builder
		for _, c := range conns {
			if c = c.unmapped(); c.Local.Addr().Is4() == v6 {
				continue
			}
			for _, w := range criuRules(c) {
				fmt.Fprintf(&b, "-I %s\n", strings.Join(w.args(), " "))
			}
		}
		if b.Len() == 0 {
			continue
		}
		tool := "iptables-restore"
		if v6 {
			tool = "ip6tables-restore"
		}
		if _, err := run(ctx, nil, []byte("*filter\n"+b.String()+"COMMIT\n"), tool, "-w", "--noflush"); err != nil {
			return err
		}
	}
	return nil
}

// criuRule is one rule of CRIU 4.2's iptables lock of a connection
// (netfilter.c): packets of chain from src to dst are dropped unless
// they carry criu's Mark. Its options come in CRIU's order: iptables
// compares the matches of a rule to delete in order.
type criuRule struct {
	chain    string
	src, dst netip.AddrPort
}

// criuRules are the two rules of c: what comes in, what goes out.
func criuRules(c Conn) [2]criuRule {
	return [2]criuRule{{"INPUT", c.Remote, c.Local}, {"OUTPUT", c.Local, c.Remote}}
}

// args is the rule after -I or -D.
func (w criuRule) args() []string {
	return []string{w.chain, "--protocol", "tcp", "-m", "mark", "!", "--mark", fmt.Sprintf("%#x", Mark),
		"--source", w.src.Addr().String(), "--sport", strconv.Itoa(int(w.src.Port())),
		"--destination", w.dst.Addr().String(), "--dport", strconv.Itoa(int(w.dst.Port())), "-j", "DROP"}
}

func (w criuRule) tool() string {
	if w.src.Addr().Is4() {
		return "iptables"
	}
	return "ip6tables"
}

// unlockCRIUConns deletes the rules of CRIU 4.2's iptables lock of the
// host flavor (criuRules: a pair per connection in INPUT and OUTPUT),
// when a restore of its images lets the connections talk, and those of
// ours, which are the same. A rule that is not there (a dump of another
// host) is no error. ns is nil for this network namespace. It returns
// how many rules went.
func unlockCRIUConns(ctx context.Context, ns *Task, conns []Conn, log zerolog.Logger) int {
	n := 0
	for _, c := range conns {
		for _, w := range criuRules(c.unmapped()) {
			if _, err := run(ctx, ns, nil, w.tool(), append([]string{"-w", "-t", "filter", "-D"}, w.args()...)...); err == nil {
				n++
				log.Info().Str("chain", w.chain).Str("src", w.src.String()).Str("dst", w.dst.String()).Msg("removed the lock of a connection")
			}
		}
	}
	return n
}
