// Package firewall saves and restores the packet filter rules of a
// network namespace in CRIU's images, through the distribution's tools
// run inside it: nftables tables (iptables-nft's rules among them) with
// nft into nftables-N.img, legacy x_tables iptables and ip6tables rules
// with iptables-legacy-save into iptables-N.img and ip6tables-N.img.
// The network lock's tables and chains, ours or CRIU 4.2's, are never
// made again.
package firewall

import (
	"bytes"
	"context"
	"io"
	"os"
)

// NS is the network namespace the tools run in (*netns.Namespace).
type NS interface {
	// Exec runs prog with args inside the namespace.
	Exec(ctx context.Context, prog string, stdin *os.File, stdout io.Writer, args ...string) error
	// Do runs f on a thread inside the namespace.
	Do(f func() error) error
}

// output runs prog with args inside ns and returns its stdout.
func output(ctx context.Context, ns NS, prog string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	if err := ns.Exec(ctx, prog, nil, &out, args...); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
