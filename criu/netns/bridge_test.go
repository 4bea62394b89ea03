package netns

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

// linkDetails returns, by link name, ip's master, address, whether it
// is up (IFF_UP; carrier comes and goes) and the bridge
// and bridge-port settings restore gives back.
func linkDetails(t *testing.T, n *testNS) map[string]map[string]any {
	t.Helper()
	var raw []map[string]any
	if err := json.Unmarshal([]byte(n.ip(t, "-d", "-j", "link", "show")), &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, l := range raw {
		d := map[string]any{"master": l["master"], "address": l["address"], "up": slices.Contains(toStrings(l["flags"]), "UP")}
		if li, ok := l["linkinfo"].(map[string]any); ok {
			for _, part := range []struct {
				key   string
				table []struct{ key, arg string }
			}{{"info_data", bridgeOptions}, {"info_slave_data", portOptions}} {
				data, _ := li[part.key].(map[string]any)
				for _, o := range part.table {
					if v, ok := data[o.key]; ok {
						d[part.key+"."+o.key] = v
					}
				}
			}
		}
		out[l["ifname"].(string)] = d
	}
	return out
}

// A bridge inside the namespace comes back with its settings (CRIU 4.2
// gives it the kernel's defaults), its ports, their settings and its
// address, and so does the port of a bridge whose address was set.
func TestDumpRestoreBridge(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	src, dst := newTestNS(t, "bsrc"), newTestNS(t, "bdst")
	src.ip(t, "link", "add", "br0", "type", "bridge", "stp_state", "1", "forward_delay", "800", "ageing_time", "12345", "mcast_snooping", "0", "priority", "4096")
	src.ip(t, "link", "add", "a0", "type", "veth", "peer", "a1")
	src.ip(t, "link", "add", "b0", "type", "veth", "peer", "b1")
	src.ip(t, "link", "set", "a0", "master", "br0")
	src.ip(t, "link", "set", "b0", "master", "br0")
	src.ip(t, "link", "set", "dev", "a0", "type", "bridge_slave", "cost", "7", "hairpin", "on", "learning", "off")
	src.ip(t, "link", "add", "br1", "type", "bridge")
	src.ip(t, "link", "set", "dev", "br1", "address", "02:00:00:00:0b:01")
	src.ip(t, "link", "set", "b1", "master", "br1")
	for _, l := range []string{"br0", "a0", "a1", "b0", "b1", "br1"} {
		src.ip(t, "link", "set", l, "up")
	}
	src.ip(t, "addr", "add", "198.18.5.1/24", "dev", "br0")
	want := linkDetails(t, src)
	if want["a0"]["info_slave_data.cost"] != 7.0 || want["br0"]["info_data.stp_state"] != 1.0 {
		t.Fatalf("setup: %v", want)
	}

	dir := nstest.Dir(t)
	if err := Dump(ctx, dir, src.ns, 1, DumpOptions{}, testLog(t)); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	if err := Restore(ctx, dir, dst.ns, 1, RestoreOptions{}, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got := linkDetails(t, dst)
	for name, w := range want {
		if g := got[name]; !reflect.DeepEqual(g, w) {
			t.Errorf("link %s:\n got %v\nwant %v", name, g, w)
		}
	}
	if a := dst.ip(t, "-4", "-o", "addr", "show", "dev", "br0"); !strings.Contains(a, "198.18.5.1/24") {
		t.Errorf("br0's address: %s", a)
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
