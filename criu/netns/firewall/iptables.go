package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/image"
)

// Legacy (x_tables) iptables rules live beside nftables, unseen by nft:
// iptables-legacy, and programs that link libiptc, write them. CRIU keeps
// them as the text of iptables-legacy-save in iptables-N.img and
// ip6tables-N.img (raw, no header), and gives that text back to
// iptables-legacy-restore -w.
func iptablesImage(id uint32) string  { return fmt.Sprintf("iptables-%d.img", id) }
func ip6tablesImage(id uint32) string { return fmt.Sprintf("ip6tables-%d.img", id) }

// legacyTables is one x_tables family: the /proc/net file naming the
// tables a namespace has, its image, and its tools.
type legacyTables struct {
	names   string // under /proc/thread-self/net
	image   func(uint32) string
	save    string
	restore string
}

var legacyFamilies = []legacyTables{
	{"ip_tables_names", iptablesImage, "iptables-legacy-save", "iptables-legacy-restore"},
	{"ip6_tables_names", ip6tablesImage, "ip6tables-legacy-save", "ip6tables-legacy-restore"},
}

// legacyNames returns the x_tables tables of ns listed in /proc/net/file
// (none when the module is not loaded).
func legacyNames(ns NS, file string) ([]string, error) {
	var names []string
	err := ns.Do(func() error {
		b, err := os.ReadFile("/proc/thread-self/net/" + file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		names = strings.Fields(string(b))
		return err
	})
	return names, err
}

// DumpIptables saves the legacy iptables and ip6tables rules of ns into
// CRIU's images. A family whose namespace has no table is not run (and
// writes no image). Legacy arptables, which CRIU does not keep either,
// are refused by name: their rules would be lost.
func DumpIptables(ctx context.Context, store image.Store, ns NS, id uint32) (int, error) {
	arp, err := legacyNames(ns, "arp_tables_names")
	if err != nil {
		return 0, fmt.Errorf("legacy arptables: %w", err)
	}
	if len(arp) > 0 {
		return 0, fmt.Errorf("%w: legacy arptables table %q: its rules cannot be saved", errdefs.ErrUnsupported, arp[0])
	}
	n := 0
	for _, f := range legacyFamilies {
		names, err := legacyNames(ns, f.names)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", f.save, err)
		}
		if len(names) == 0 {
			continue
		}
		if _, err := exec.LookPath(f.save); err != nil {
			return 0, fmt.Errorf("%w: legacy iptables table %q: %s is not installed, so its rules cannot be saved", errdefs.ErrUnsupported, names[0], f.save)
		}
		out, err := output(ctx, ns, f.save)
		if err != nil {
			return 0, fmt.Errorf("legacy iptables: %w", err)
		}
		if err := image.WriteRaw(ctx, store, f.image(id), out); err != nil {
			return 0, err
		}
		n += len(names)
	}
	return n, nil
}

// RestoreIptables gives iptables-N.img and ip6tables-N.img (ours or
// CRIU's) to iptables-legacy-restore in ns. A missing image, or one with
// no table in it (iptables-save's comments only), is skipped.
func RestoreIptables(ctx context.Context, store image.Store, ns NS, id uint32) error {
	for _, f := range legacyFamilies {
		name := f.image(id)
		text, ok, err := readImage(ctx, store, name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if text = withoutLegacyLock(text); !hasLegacyTable(text) {
			continue
		}
		if _, err := exec.LookPath(f.restore); err != nil {
			return fmt.Errorf("restore image %s: legacy iptables rules need %s, which is not installed", name, f.restore)
		}
		if err := feed(ctx, ns, name, text, f.restore, "-w"); err != nil {
			return err
		}
	}
	return nil
}

// hasLegacyTable reports whether iptables-save text names a table (a
// line "*filter" and the like).
func hasLegacyTable(text []byte) bool {
	for _, l := range bytes.Split(text, []byte("\n")) {
		if bytes.HasPrefix(bytes.TrimSpace(l), []byte("*")) {
			return true
		}
	}
	return false
}

// withoutLegacyLock drops CRIU's network lock from iptables-save text: a
// chain CRIU in the filter table, jumped to from INPUT and OUTPUT. CRIU
// 4.2 on a host whose iptables is legacy dumps the namespace with its
// lock in it and deletes the lock after its own restore; made again by
// ours, it would drop every packet of the restored namespace.
func withoutLegacyLock(text []byte) []byte {
	var out bytes.Buffer
	for _, l := range bytes.SplitAfter(text, []byte("\n")) {
		f := strings.Fields(string(l))
		switch {
		case len(f) >= 1 && f[0] == ":CRIU":
		case len(f) >= 2 && f[0] == "-A" && f[1] == "CRIU":
		case len(f) == 4 && f[0] == "-A" && (f[1] == "INPUT" || f[1] == "OUTPUT") && f[2] == "-j" && f[3] == "CRIU":
		default:
			out.Write(l)
		}
	}
	return out.Bytes()
}
