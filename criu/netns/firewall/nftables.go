package firewall

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
)

// nftablesImage is CRIU's image of a namespace's nftables: raw, no
// header, the text of `nft list ruleset`, which restore feeds to nft.
func nftablesImage(id uint32) string { return fmt.Sprintf("nftables-%d.img", id) }

// nftTool is the nft program.
const nftTool = "nft"

// lockTable reports the table of a network lock (netlock's "inet
// CRIU-ID", CRIU's too): it is criu's, not the tree's, and goes with the
// lock.
func lockTable(family, name string) bool {
	return family == "inet" && strings.HasPrefix(name, "CRIU-")
}

// DumpNftables saves the nftables tables of ns (iptables-nft's rules are
// among them) but the network lock's, as `nft list table` text, into
// nftables-N.img. Without nft(8) the dump goes on only when the kernel
// has no nf_tables (so no table can exist); else it is refused by name,
// since the rules would be lost.
func DumpNftables(ctx context.Context, store image.Store, ns NS, id uint32) (int, error) {
	if _, err := exec.LookPath(nftTool); err != nil {
		if _, serr := os.Stat("/sys/module/nf_tables"); serr == nil {
			return 0, fmt.Errorf("%w: nftables: nf_tables is loaded and nft(8) is not installed, so the namespace's tables cannot be saved", errdefs.ErrUnsupported)
		}
		return 0, nil
	}
	out, err := output(ctx, ns, nftTool, "list", "tables")
	if err != nil {
		return 0, fmt.Errorf("nftables: %w", err)
	}
	var text bytes.Buffer
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "table" {
			continue
		}
		if lockTable(f[1], f[2]) {
			continue
		}
		b, err := output(ctx, ns, nftTool, "list", "table", f[1], f[2])
		if err != nil {
			return 0, fmt.Errorf("nftables: table %s %s: %w", f[1], f[2], err)
		}
		text.Write(b)
		n++
	}
	if err := image.WriteRaw(ctx, store, nftablesImage(id), text.Bytes()); err != nil {
		return 0, err
	}
	return n, nil
}

// RestoreNftables makes the tables of nftables-N.img again in ns, in one
// nft transaction. A missing or empty image is skipped.
func RestoreNftables(ctx context.Context, store image.Store, ns NS, id uint32) error {
	text, ok, err := readImage(ctx, store, nftablesImage(id))
	if err != nil || !ok {
		return err
	}
	text = withoutLockTables(text)
	if len(bytes.TrimSpace(text)) == 0 {
		return nil
	}
	return feed(ctx, ns, nftablesImage(id), text, nftTool, "-f", "-")
}

// withoutLockTables drops from nft text the blocks of network-lock
// tables ("table inet CRIU-..." to its closing "}" at the start of a
// line). Ours are never dumped, but CRIU 4.2 dumps the namespace's
// ruleset with its own lock in it, which its restore deletes at the
// end: an nftables lock table, or its iptables lock (a chain CRIU in
// the ip and ip6 filter tables, jumped to from INPUT and OUTPUT), both
// dropped here. Made again by ours, it dropped every packet of the
// restored namespace for good.
func withoutLockTables(text []byte) []byte {
	var out bytes.Buffer
	skip, chain := false, false
	for _, l := range bytes.SplitAfter(text, []byte("\n")) {
		f := strings.Fields(string(l))
		switch {
		case skip:
			skip = !strings.HasPrefix(string(l), "}")
		case chain:
			chain = !strings.HasPrefix(strings.TrimSpace(string(l)), "}")
		case len(f) >= 3 && f[0] == "table" && lockTable(f[1], f[2]):
			skip = !strings.Contains(string(l), "}")
		case len(f) >= 3 && f[0] == "chain" && f[1] == "CRIU" && f[2] == "{":
			chain = true
		case len(f) >= 2 && f[len(f)-2] == "jump" && f[len(f)-1] == "CRIU":
		default:
			out.Write(l)
		}
	}
	return out.Bytes()
}
