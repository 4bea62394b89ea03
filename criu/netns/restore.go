package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/image"
	"github.com/criugo/criu/criu/netlock"
	"github.com/criugo/criu/criu/netns/firewall"
	"github.com/criugo/criu/criu/tun"
	"github.com/criugo/criu/proto/images"
)

// RestoreOptions tunes Restore.
type RestoreOptions struct {
	// Empty leaves the namespace as it was made, configuring nothing
	// (CRIU's --empty-ns net, which runc always asks for: it sets the
	// network up itself in its hooks).
	Empty bool
	// IPTool is the ip program; "ip" (from PATH) when empty.
	IPTool string
	// Veth maps the name of each veth link inside the namespace whose
	// peer was outside it to the name its peer gets outside, then
	// optionally @ and a bridge of PeerNS: CRIU's --external
	// veth[IFNAME]:OUTNAME[@BRIDGE] (ParseExternal); and the name of each
	// macvlan whose lower link was outside to the lower link to make it
	// on in PeerNS (CRIU's --external macvlan[IFNAME]:PARENT).
	Veth map[string]string
	// PeerNS is the namespace the veth peers are created in; nil means
	// this process's own (as CRIU does). Restore leaves a peer down,
	// unless it is given a bridge: then the peer is attached to it
	// (made its port, IFLA_MASTER) and brought up, as CRIU does.
	PeerNS *Namespace
	// Inv is the dump's inventory: with its network lock method and run
	// id, the namespace is locked whole (package netlock) before
	// anything is configured, until netlock.AfterRestore: the peers'
	// retransmits meet silence, not an empty namespace that resets
	// them. Needs ns from OpenPid; nil, or no run id, locks nothing.
	Inv *images.InventoryEntry
	// FirewallLater leaves the nftables and iptables rules of the
	// images to RestoreFirewall, which the caller runs once the sockets
	// are made: the segments package soccr sends to rebuild a closed
	// or half-closed TCP connection (marked for the lock, which lets
	// them through) are not dropped by the task's own rules on the way
	// (an iptables DROP on the connection's port, in the table its
	// lock's accept does not end). The lock drops all else meanwhile.
	FirewallLater bool
}

// Restore configures network namespace ns, which should be fresh (only
// lo, down), from the images of object id: it recreates the links with
// their ifindex, link-layer address and MTU, brings up those that were
// up, then feeds the address, route and rule images to `ip addr
// restore`, `ip route restore` and `ip rule restore`. A missing or empty
// ip image is skipped, as CRIU does. The links come from iplinks-N.img
// or, in CRIU's images, from netdev-N.img; with neither, the links are
// taken to be there already.
//
// On error, the links Restore created are deleted again (with their
// veth peers); addresses and routes already restored are left to the
// caller, who is expected to discard the namespace.
func Restore(ctx context.Context, store image.Store, ns *Namespace, id uint32, opts RestoreOptions, log zerolog.Logger) (err error) {
	if opts.Empty {
		log.Info().Uint32("netns", id).Msg("empty network namespace: nothing restored in it (empty_ns)")
		return nil
	}
	t := tool{path: ipTool(opts.IPTool), ns: ns}
	log = log.With().Uint32("netns", id).Logger()

	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	if opts.Inv.GetDumpCriuRunId() != "" && ns.pid > 0 { // CRIU's images of before the id: no lock
		m := netlock.FromInventory(opts.Inv.NetworkLockMethod)
		l, err := netlock.LockNetns(ctx, m, opts.Inv.GetDumpCriuRunId(), ns.pid, log)
		if err != nil {
			return fmt.Errorf("restore netns %d: %w", id, err)
		}
		undo = append(undo, func() { l.Unlock(context.Background()) })
	}
	ne := &images.NetnsEntry{}
	switch err := image.ReadOne(ctx, store, netnsImage(id), ne); {
	case errors.Is(err, fs.ErrNotExist):
		log.Debug().Str("img", netnsImage(id)).Msg("no sysctls image, sysctls left as they are")
	case err != nil:
		return fmt.Errorf("restore netns %d: %w", id, err)
	default:
		if err := ns.do(func() error { return writeNetns(ne) }); err != nil {
			return fmt.Errorf("restore netns %d sysctls from %s: %w", id, netnsImage(id), err)
		}
	}

	links, err := readLinks(ctx, store, id)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Debug().Str("img", linksImage(id)).Msg("no links image, links left as they are")
	case err != nil:
		return fmt.Errorf("restore netns %d: %w", id, err)
	}
	byName := map[string]Link{}
	for _, l := range links {
		byName[l.Name] = l
	}
	made := map[string]bool{} // veth links created with their peer
	for _, l := range links {
		var peer *Link
		if l.Kind == KindVeth && l.Peer != "" {
			if made[l.Name] {
				// Created with its peer: only bring it up.
				if err := setUp(ctx, t, l); err != nil {
					return fmt.Errorf("restore netns %d link %s: %w", id, l.Name, err)
				}
				continue
			}
			p := byName[l.Peer]
			peer = &p
			made[p.Name] = true
		}
		created, err := restoreLink(ctx, t, l, peer, opts)
		if created {
			name := l.Name
			undo = append(undo, func() {
				if err := t.run(context.WithoutCancel(ctx), "link", "del", "dev", name); err != nil {
					log.Warn().Err(err).Str("link", name).Msg("undo link")
				}
			})
		}
		if err != nil {
			return fmt.Errorf("restore netns %d link %s: %w", id, l.Name, err)
		}
		log.Debug().Str("link", l.Name).Str("kind", l.Kind).Int("index", l.Index).Msg("link restored")
	}
	if err := restorePorts(ctx, t, links); err != nil {
		return fmt.Errorf("restore netns %d: %w", id, err)
	}

	if err := restoreDevConfs(ctx, store, ns, id, links); err != nil {
		return fmt.Errorf("restore netns %d: %w", id, err)
	}

	// CRIU 4.2 saves routes as they are: a route through a link without
	// carrier has its linkdown flag, which `ip route restore` refuses
	// (ours are saved without it, and without the local table, which
	// the addresses make again), so routes go through dropLocalTable.
	for _, r := range []struct {
		name   string
		cmd    string
		filter func([]byte) ([]byte, error)
	}{
		{ifaddrImage(id), "addr", nil},
		{routeImage(id), "route", dropLocalTable},
		{route6Image(id), "route", dropLocalTable},
	} {
		if err := restoreDump(ctx, t, store, r.name, nil, r.filter, r.cmd, "restore"); err != nil {
			return fmt.Errorf("restore netns %d: %w", id, err)
		}
	}
	// The kernel makes default rules in every netns (local, main and
	// default for IPv4; local and main for IPv6); drop them first, since
	// the images hold them too (CRIU does the same for IPv4).
	for _, r := range []struct{ name, family string }{{ruleImage(id), "-4"}, {rule6Image(id), "-6"}} {
		flush := func() {
			for _, args := range [][]string{{r.family, "rule", "flush"}, {r.family, "rule", "del", "table", "local"}} {
				if err := t.run(ctx, args...); err != nil {
					log.Warn().Err(err).Str("family", r.family).Msg("clear default rules")
				}
			}
		}
		if err := restoreDump(ctx, t, store, r.name, flush, nil, r.family, "rule", "restore"); err != nil {
			return fmt.Errorf("restore netns %d: %w", id, err)
		}
	}
	if !opts.FirewallLater {
		if err := RestoreFirewall(ctx, store, ns, id); err != nil {
			return err
		}
	}
	log.Info().Int("links", len(links)).Msg("network namespace restored")
	return nil
}

// RestoreFirewall loads the nftables and iptables rules of object id's
// images into ns (Restore does, unless RestoreOptions.FirewallLater).
func RestoreFirewall(ctx context.Context, store image.Store, ns *Namespace, id uint32) error {
	if err := firewall.RestoreNftables(ctx, store, ns, id); err != nil {
		return fmt.Errorf("restore netns %d: %w", id, err)
	}
	if err := firewall.RestoreIptables(ctx, store, ns, id); err != nil {
		return fmt.Errorf("restore netns %d: %w", id, err)
	}
	return nil
}

// restoreDevConfs sets the ipv4 and ipv6 sysctls of each link saved in
// netdev-N.img, before the addresses (disable_ipv6 and the like act on
// them). A missing image is skipped; a device of the image that is not
// in links is an error.
func restoreDevConfs(ctx context.Context, store image.Store, ns *Namespace, id uint32, links []Link) error {
	msgs, err := image.ReadAll(ctx, store, netdevImage(id), func() proto.Message { return &images.NetDeviceEntry{} })
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// Without a links image the links were there already: any name goes.
	var have map[string]bool
	for _, l := range links {
		if have == nil {
			have = map[string]bool{}
		}
		have[l.Name] = true
	}
	return ns.do(func() error {
		for _, m := range msgs {
			d := m.(*images.NetDeviceEntry)
			if have != nil && !have[d.GetName()] {
				return fmt.Errorf("%w: %s: device %q is not among the links", ErrBadImage, netdevImage(id), d.GetName())
			}
			if err := checkIfName(d.GetName()); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrBadImage, netdevImage(id), err)
			}
			if err := writeGroup("net/ipv4/conf/"+d.GetName(), devconfs4, d.GetConf4()); err != nil {
				return fmt.Errorf("%s: %w", netdevImage(id), err)
			}
			if err := writeGroup("net/ipv6/conf/"+d.GetName(), devconfs6, d.GetConf6()); err != nil {
				return fmt.Errorf("%s: %w", netdevImage(id), err)
			}
		}
		return nil
	})
}

// readLinks reads the links of namespace id from iplinks-N.img or, in
// images CRIU wrote (no such image), from netdev-N.img
// (linksFromNetdev). With neither, it returns an error wrapping
// fs.ErrNotExist.
func readLinks(ctx context.Context, store image.Store, id uint32) ([]Link, error) {
	r, err := store.Open(ctx, linksImage(id))
	if errors.Is(err, fs.ErrNotExist) {
		msgs, nerr := image.ReadAll(ctx, store, netdevImage(id), func() proto.Message { return &images.NetDeviceEntry{} })
		if errors.Is(nerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("open image %s: %w", linksImage(id), err)
		}
		if nerr != nil {
			return nil, nerr
		}
		devs := make([]*images.NetDeviceEntry, len(msgs))
		for i, m := range msgs {
			devs[i] = m.(*images.NetDeviceEntry)
		}
		links, err := linksFromNetdev(devs, id)
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w", netdevImage(id), err)
		}
		return links, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", linksImage(id), err)
	}
	defer r.Close()
	links, err := decodeLinks(r)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", linksImage(id), err)
	}
	return links, nil
}

// linkArgs are the `ip link add` arguments that give l its name,
// index, address and MTU.
func linkArgs(l Link) []string {
	args := []string{"name", l.Name, "index", strconv.Itoa(l.Index)}
	if l.Address != "" {
		args = append(args, "address", l.Address)
	}
	if l.MTU > 0 {
		args = append(args, "mtu", strconv.Itoa(l.MTU))
	}
	return args
}

// restoreLink creates link l (or, for lo, configures it) and brings it
// up if it was. A veth link with its peer in the namespace is created
// together with peer (which the caller then only brings up). created
// says whether a link now exists that was made here, even if err is set.
func restoreLink(ctx context.Context, t tool, l Link, peer *Link, opts RestoreOptions) (created bool, err error) {
	common := append([]string{"link", "add"}, linkArgs(l)...)
	switch l.Kind {
	case KindLoopback:
		if l.MTU > 0 {
			if err := t.run(ctx, "link", "set", "dev", l.Name, "mtu", strconv.Itoa(l.MTU)); err != nil {
				return false, err
			}
		}
	case KindDummy:
		if err := t.run(ctx, append(common, "type", "dummy")...); err != nil {
			return false, err
		}
		created = true
	case KindMacvlan:
		if err := restoreMacvlan(ctx, t, l, opts); err != nil {
			return false, err
		}
		created = true
	case KindTun:
		if err := t.ns.do(func() error { return tun.MakeLink(l.Name, uint32(l.Index), l.Tun.entry()) }); err != nil {
			return false, err
		}
		created = true
		args := []string{"link", "set", "dev", l.Name}
		if l.Address != "" {
			args = append(args, "address", l.Address)
		}
		if l.MTU > 0 {
			args = append(args, "mtu", strconv.Itoa(l.MTU))
		}
		if len(args) > 4 {
			if err := t.run(ctx, args...); err != nil {
				return true, err
			}
		}
	case KindBridge:
		// Its address is set once its ports are in (restorePorts).
		nl := l
		nl.Address = ""
		args := append(append([]string{"link", "add"}, linkArgs(nl)...), "type", "bridge")
		if err := t.run(ctx, append(args, l.Bridge...)...); err != nil {
			return false, err
		}
		created = true
	case KindVeth:
		if dev, ok := movedDevice(opts.Veth[l.Name]); ok {
			if peer != nil {
				return false, fmt.Errorf("veth %s: its peer %s was in the namespace too: --external netdev[%s]:%s moves in a veth whose peer was outside", l.Name, peer.Name, l.Name, dev)
			}
			from, done, err := peerNS(opts)
			if err != nil {
				return false, err
			}
			defer done()
			if err := moveDevice(from, t.ns, dev, l); err != nil {
				return false, err
			}
			created = true
			break
		}
		if peer != nil {
			args := append(append(common, "type", "veth", "peer"), linkArgs(*peer)...)
			if err := t.run(ctx, args...); err != nil {
				return false, err
			}
			created = true
			break
		}
		out, bridge := splitPeer(opts.Veth[l.Name])
		if out == "" {
			return false, fmt.Errorf("%w (give it with --external veth[%s]:OUTNAME[@BRIDGE])", ErrNoVethPeer, l.Name)
		}
		peer, done, err := peerNS(opts)
		if err != nil {
			return false, err
		}
		defer done()
		pf, err := peer.file()
		if err != nil {
			return false, err
		}
		// The child sees pf as fd 3.
		args := append(common, "type", "veth", "peer", "name", out, "netns", "/proc/self/fd/3")
		if err := t.runFiles(ctx, nil, nil, []*os.File{pf}, args...); err != nil {
			return false, err
		}
		created = true
		if bridge != "" {
			// The pair goes with l when it is deleted (undo).
			pt := tool{path: t.path, ns: peer}
			if err := pt.run(ctx, "link", "set", "dev", out, "master", bridge, "up"); err != nil {
				return true, fmt.Errorf("attach veth peer %s to bridge %s: %w", out, bridge, err)
			}
		}
	default:
		return false, fmt.Errorf("kind %q: %w", l.Kind, ErrUnsupportedLink)
	}
	return created, setUp(ctx, t, l)
}

// peerNS is the namespace outside links are in: RestoreOptions.PeerNS,
// else criu's own (done closes what peerNS opened).
func peerNS(opts RestoreOptions) (ns *Namespace, done func(), err error) {
	if opts.PeerNS != nil {
		return opts.PeerNS, func() {}, nil
	}
	own, err := OpenPid(os.Getpid())
	if err != nil {
		return nil, nil, err
	}
	return own, func() { own.Close() }, nil
}

// setUp brings link l up if it was.
func setUp(ctx context.Context, t tool, l Link) error {
	if !l.Up {
		return nil
	}
	return t.run(ctx, "link", "set", "dev", l.Name, "up")
}

// restoreDump feeds image name to `ip args...` on a seekable stdin. A
// missing or empty image is skipped; before is run first otherwise.
func restoreDump(ctx context.Context, t tool, store image.Store, name string, before func(), filter func([]byte) ([]byte, error), args ...string) error {
	r, err := store.Open(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open image %s: %w", name, err)
	}
	var src io.Reader = r
	if filter != nil {
		b, rerr := io.ReadAll(r)
		if rerr == nil {
			b, rerr = filter(b)
		}
		if rerr != nil {
			r.Close()
			return fmt.Errorf("read image %s: %w", name, rerr)
		}
		src = bytes.NewReader(b)
	}
	f, err := image.SeekableCopy(ctx, src)
	if cerr := r.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return fmt.Errorf("read image %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read image %s: %w", name, err)
	}
	if st.Size() == 0 {
		return nil
	}
	if before != nil {
		before()
	}
	if err := t.runFiles(ctx, f, nil, nil, args...); err != nil {
		return fmt.Errorf("restore image %s: %w", name, err)
	}
	return nil
}
