package netlock

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
)

// table is the nft table of the lock, as CRIU names it: CRIU 4.2 makes
// "inet CRIU-ID" in a 32-byte buffer (netfilter.c), so the name is
// CRIU- and the run id's first 21 characters. Its restore deletes that
// table; ours deletes CRIU's.
func (r *record) table() string {
	t := "inet CRIU-" + r.ID
	if len(t) > nftTableMax {
		t = t[:nftTableMax]
	}
	return t
}

// nftTableMax is the longest "inet NAME" CRIU 4.2 names a table with.
const nftTableMax = 31

// nft makes or deletes r's table in one transaction (nft -f: all or
// nothing).
func (r *record) nft(ctx context.Context, lock bool, conns []Conn) error {
	var b strings.Builder
	if !lock {
		fmt.Fprintf(&b, "delete table %s\n", r.table())
		_, err := run(ctx, r.NS, []byte(b.String()), "nft", "-f", "-")
		if isNoEntry(err) || errors.Is(err, exec.ErrNotFound) {
			return errAbsent
		}
		return err
	}
	_, err := run(ctx, r.NS, []byte(r.nftScript(conns)), "nft", "-f", "-")
	return err
}

// nftScript is the nft script that makes r's table.
func (r *record) nftScript(conns []Conn) string {
	var b strings.Builder
	// create fails if the table is there: a run id is locked once.
	fmt.Fprintf(&b, "create table %s { comment %q; }\n", r.table(), r.comment())
	policy := ""
	if r.NS != nil {
		policy = " policy drop;"
	}
	var v4, v6 []string
	for _, c := range conns {
		c = c.unmapped()
		l, rm := c.Local, c.Remote
		e1 := fmt.Sprintf("%s . %d . %s . %d", l.Addr(), l.Port(), rm.Addr(), rm.Port())
		e2 := fmt.Sprintf("%s . %d . %s . %d", rm.Addr(), rm.Port(), l.Addr(), l.Port())
		if l.Addr().Is4() {
			v4 = append(v4, e1, e2)
		} else {
			v6 = append(v6, e1, e2)
		}
	}
	if r.NS == nil {
		fmt.Fprintf(&b, "add set %s conns4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n", r.table())
		fmt.Fprintf(&b, "add set %s conns6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n", r.table())
		if len(v4) > 0 {
			fmt.Fprintf(&b, "add element %s conns4 { %s }\n", r.table(), strings.Join(v4, ", "))
		}
		if len(v6) > 0 {
			fmt.Fprintf(&b, "add element %s conns6 { %s }\n", r.table(), strings.Join(v6, ", "))
		}
	}
	for _, ch := range []string{"output", "input"} {
		fmt.Fprintf(&b, "add chain %s %s { type filter hook %s priority 0;%s }\n", r.table(), ch, ch, policy)
		fmt.Fprintf(&b, "add rule %s %s meta mark %#x accept\n", r.table(), ch, Mark)
		if r.NS == nil {
			fmt.Fprintf(&b, "add rule %s %s ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n", r.table(), ch)
			fmt.Fprintf(&b, "add rule %s %s ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n", r.table(), ch)
		}
	}
	return b.String()
}

// isNoEntry tells nft's failure on a table that does not exist.
func isNoEntry(err error) bool {
	var te *ToolError
	var ee *exec.ExitError
	return errors.As(err, &te) && errors.As(err, &ee) &&
		(strings.Contains(te.Stderr, syscall.ENOENT.Error()) || strings.Contains(te.Stderr, "No such file"))
}
