package netns

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

// macvlans returns, by name, what ip says of each macvlan of n: its
// index, address, mode and lower link (a name in n, or "outside").
func macvlans(t *testing.T, n *testNS) map[string][4]string {
	t.Helper()
	var raw []ipLink
	var extra []struct {
		Index    int `json:"ifindex"`
		LinkInfo *struct {
			Data map[string]any `json:"info_data"`
		} `json:"linkinfo"`
	}
	out := n.ip(t, "-d", "-j", "link", "show")
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &extra); err != nil {
		t.Fatal(err)
	}
	got := map[string][4]string{}
	for i, l := range raw {
		if l.LinkInfo == nil || l.LinkInfo.Kind != KindMacvlan {
			continue
		}
		lower := l.Link
		if l.NetnsID != nil {
			lower = "outside"
		}
		mode, _ := extra[i].LinkInfo.Data["mode"].(string)
		got[l.Name] = [4]string{strconv.Itoa(l.Index), l.Address, mode, lower}
	}
	return got
}

// A macvlan on a link outside the namespace (zdtm's macvlan test, and
// CRIU's --external macvlan[IFNAME]:PARENT at restore) and one on a
// veth inside come back with their index, address and mode, on the
// PARENT given or on the same inner link; without PARENT the restore
// fails naming the option and leaves nothing behind.
func TestDumpRestoreMacvlan(t *testing.T) {
	requireNet(t)
	ctx := context.Background()
	src, outer := newTestNS(t, "msrc"), newTestNS(t, "mouter")
	outer.ip(t, "link", "add", "zbr0", "type", "bridge")
	outer.ip(t, "link", "add", "zmv0", "link", "zbr0", "type", "macvlan", "mode", "bridge")
	outer.ip(t, "link", "set", "zmv0", "netns", src.name)
	src.ip(t, "link", "add", "v0", "type", "veth", "peer", "v1")
	src.ip(t, "link", "add", "zmv1", "link", "v0", "type", "macvlan", "mode", "private")
	src.ip(t, "link", "set", "zmv0", "up")
	src.ip(t, "addr", "add", "198.18.9.1/24", "dev", "zmv0")
	want := macvlans(t, src)
	if len(want) != 2 || want["zmv0"][3] != "outside" || want["zmv1"][3] != "v0" {
		t.Fatalf("setup: %v", want)
	}

	dir := nstest.Dir(t)
	if err := Dump(ctx, dir, src.ns, 1, DumpOptions{}, testLog(t)); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	host := newTestNS(t, "mhost")
	host.ip(t, "link", "add", "hbr0", "type", "bridge")

	bad := newTestNS(t, "mbad")
	err := Restore(ctx, dir, bad.ns, 1, RestoreOptions{PeerNS: host.ns}, testLog(t))
	if !errors.Is(err, ErrNoVethPeer) {
		t.Fatalf("Restore without the parent: %v, want ErrNoVethPeer", err)
	}
	if got := macvlans(t, bad); len(got) != 0 {
		t.Errorf("a failed restore left %v", got)
	}

	dst := newTestNS(t, "mdst")
	opts := RestoreOptions{Veth: map[string]string{"zmv0": "hbr0"}, PeerNS: host.ns}
	if err := Restore(ctx, dir, dst.ns, 1, opts, testLog(t)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := macvlans(t, dst); len(got) != 2 || got["zmv0"] != want["zmv0"] || got["zmv1"] != want["zmv1"] {
		t.Errorf("restored macvlans %v, want %v", got, want)
	}
	if a := dst.ip(t, "-4", "-o", "addr", "show", "dev", "zmv0"); !strings.Contains(a, "198.18.9.1/24") {
		t.Errorf("zmv0's address: %s", a)
	}

	// From CRIU's netdev-N.img alone (the macvlan entry holds the mode).
	os.Remove(filepath.Join(dir.Path(), linksImage(1)))
	links, err := readLinks(ctx, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Name == "zmv0" && (l.Kind != KindMacvlan || l.Macvlan == nil || l.Macvlan.Mode != "bridge" || l.Address != want["zmv0"][1]) {
			t.Errorf("zmv0 from netdev-1.img: %+v", l)
		}
	}
}
