package firewall

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

// A namespace's nftables tables (what upstream zdtm's netns-nft makes,
// and iptables-nft's rules) are saved, but the network lock's, and made
// again at restore in the new namespace; the image is CRIU's
// nftables-N.img, nft's text.
func TestDumpRestoreNftables(t *testing.T) {
	requireNet(t)
	if _, err := exec.LookPath(nftTool); err != nil {
		t.Skip("needs nft(8)")
	}
	ctx := context.Background()
	src, dst := newTestNS(t, "nsrc"), newTestNS(t, "ndst")
	src.nft(t, "add", "table", "inet", "zdtm-like")
	src.nft(t, "add", "chain", "inet", "zdtm-like", "in", "{ type filter hook input priority 0; policy accept; }")
	src.nft(t, "add", "rule", "inet", "zdtm-like", "in", "tcp", "dport", "4242", "counter", "drop")
	src.nft(t, "add", "table", "ip", "other")
	src.nft(t, "add", "set", "ip", "other", "s", "{ type ipv4_addr; }")
	src.nft(t, "add", "element", "ip", "other", "s", "{ 198.18.0.1 }")
	src.nft(t, "add", "table", "inet", "CRIU-lockofadump")
	want := src.nft(t, "list", "table", "inet", "zdtm-like") + src.nft(t, "list", "table", "ip", "other")

	dir := nstest.Dir(t)
	if _, err := dump(ctx, dir, src.ns, 1); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	img, err := os.ReadFile(filepath.Join(dir.Path(), nftablesImage(1)))
	if err != nil || string(img) != want {
		t.Fatalf("%s: %v\n%s\nwant\n%s", nftablesImage(1), err, img, want)
	}
	if err := restore(ctx, dir, dst.ns, 1); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got := dst.nft(t, "list", "ruleset")
	if got != want {
		t.Errorf("restored ruleset:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(got, "CRIU-") {
		t.Errorf("the lock's table was restored:\n%s", got)
	}
}
