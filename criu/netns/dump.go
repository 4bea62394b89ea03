package netns

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/netns/firewall"
	"github.com/criugo/criu/criu/tun"
	"github.com/criugo/criu/proto/images"
)

// Image names of network namespace id.
func ifaddrImage(id uint32) string { return fmt.Sprintf("ifaddr-%d.img", id) }
func routeImage(id uint32) string  { return fmt.Sprintf("route-%d.img", id) }
func route6Image(id uint32) string { return fmt.Sprintf("route6-%d.img", id) }
func ruleImage(id uint32) string   { return fmt.Sprintf("rule-%d.img", id) }
func rule6Image(id uint32) string  { return fmt.Sprintf("rule6-%d.img", id) }
func linksImage(id uint32) string  { return fmt.Sprintf("iplinks-%d.img", id) }
func netdevImage(id uint32) string { return fmt.Sprintf("netdev-%d.img", id) }
func netnsImage(id uint32) string  { return fmt.Sprintf("netns-%d.img", id) }

// DumpOptions tunes Dump.
type DumpOptions struct {
	// IPTool is the ip program; "ip" (from PATH) when empty. CRIU reads
	// the same choice from $CR_IP_TOOL; reading it is the caller's job.
	IPTool string
	// Tun are the tun/tap devices the tree's files are attached to, by
	// name, as the files' dump found them (package tun).
	Tun map[string]*tun.Device
}

// Dump saves the configuration of network namespace ns as the images of
// object id: its links, addresses, routes (IPv4 and IPv6, every table but
// local) and policy rules. A veth whose peer is outside the namespace is
// saved as CRIU saves it, needing no name at dump: its own name, index,
// address, MTU and flags, and its peer's ifindex with no peer namespace;
// the restore is told the peer's name (RestoreOptions.Veth). It writes nothing else into store and does
// not call store.Finish. On error, images already written stay (the
// whole dump fails anyway) and none is half-written.
func Dump(ctx context.Context, store image.Store, ns *Namespace, id uint32, opts DumpOptions, log zerolog.Logger) error {
	t := tool{path: ipTool(opts.IPTool), ns: ns}
	log = log.With().Uint32("netns", id).Logger()

	out, err := t.output(ctx, "-d", "-j", "link", "show")
	if err != nil {
		return fmt.Errorf("dump netns %d links: %w", id, err)
	}
	links, err := parseIPLinks(out)
	if err != nil {
		return fmt.Errorf("dump netns %d links: %w", id, err)
	}
	rt, err := ns.rtLinks()
	if err != nil {
		return fmt.Errorf("dump netns %d links: %w", id, err)
	}
	tuns := map[string]*TunSettings{}
	for _, l := range rt {
		if l.kind == KindTun {
			if tuns[l.name], err = tunSettings(ns, l, opts.Tun); err != nil {
				return fmt.Errorf("dump netns %d links: %w", id, err)
			}
		}
	}
	for i := range links {
		links[i].Tun = tuns[links[i].Name]
	}
	var lb bytes.Buffer
	if err := encodeLinks(&lb, links); err != nil {
		return fmt.Errorf("dump netns %d links: %w", id, err)
	}
	if err := writeImage(ctx, store, linksImage(id), lb.Bytes()); err != nil {
		return err
	}

	if err := dumpCRIU(ctx, store, ns, id, rt, tuns); err != nil {
		return fmt.Errorf("dump netns %d: %w", id, err)
	}

	dumps := []struct {
		name      string
		args      []string
		dropLocal bool
	}{
		{ifaddrImage(id), []string{"addr", "save"}, false},
		{routeImage(id), []string{"-4", "route", "save", "table", "all"}, true},
		{route6Image(id), []string{"-6", "route", "save", "table", "all"}, true},
		{ruleImage(id), []string{"-4", "rule", "save"}, false},
		{rule6Image(id), []string{"-6", "rule", "save"}, false},
	}
	for _, d := range dumps {
		b, err := t.output(ctx, d.args...)
		if err != nil {
			return fmt.Errorf("dump netns %d: %w", id, err)
		}
		if d.dropLocal {
			if b, err = dropLocalTable(b); err != nil {
				return fmt.Errorf("dump netns %d %s: %w", id, d.name, err)
			}
		}
		if err := writeImage(ctx, store, d.name, b); err != nil {
			return err
		}
		log.Debug().Str("img", d.name).Int("bytes", len(b)).Msg("saved")
	}
	tables, err := firewall.DumpNftables(ctx, store, ns, id)
	if err != nil {
		return fmt.Errorf("dump netns %d: %w", id, err)
	}
	legacy, err := firewall.DumpIptables(ctx, store, ns, id)
	if err != nil {
		return fmt.Errorf("dump netns %d: %w", id, err)
	}
	log.Info().Int("links", len(links)).Int("nftables", tables).Int("iptables_legacy", legacy).Msg("network namespace dumped")
	return nil
}

// writeImage stores b as image name.
func writeImage(ctx context.Context, store image.Store, name string, b []byte) error {
	return image.WriteRaw(ctx, store, name, b)
}

func ipTool(p string) string {
	if p == "" {
		return "ip"
	}
	return p
}

// dumpCRIU writes the images CRIU keeps for a network namespace:
// netdev-N.img (a NetDeviceEntry per link, by ifindex, from rtnetlink,
// with the link's ipv4 and ipv6 sysctls) and netns-N.img (the
// namespace's ipv4, ipv6, unix and ping sysctls). Our Restore reads the
// links from iplinks-N.img and the sysctls from the other two.
func dumpCRIU(ctx context.Context, store image.Store, ns *Namespace, id uint32, rt []rtLink, tuns map[string]*TunSettings) error {
	rt = slices.Clone(rt)
	slices.SortFunc(rt, func(a, b rtLink) int { return cmp.Compare(a.index, b.index) })
	devs := make([]proto.Message, 0, len(rt))
	var e *images.NetnsEntry
	err := ns.do(func() (err error) {
		for _, l := range rt {
			d, err := netDevice(l, id, tuns[l.name])
			if err != nil {
				return err
			}
			if d.Conf4, err = readGroup("net/ipv4/conf/"+l.name, devconfs4); err != nil {
				return err
			}
			if d.Conf6, err = readGroup("net/ipv6/conf/"+l.name, devconfs6); err != nil {
				return err
			}
			devs = append(devs, d)
		}
		e, err = readNetns()
		return err
	})
	if err != nil {
		return err
	}
	if err := image.WriteImage(ctx, store, netdevImage(id), devs...); err != nil {
		return err
	}
	return image.WriteImage(ctx, store, netnsImage(id), e)
}
