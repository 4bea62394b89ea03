package netns

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/proto/images"
)

// Link kinds that Restore recreates.
const (
	KindLoopback = "loopback" // lo: exists in every netns, only set up
	KindDummy    = "dummy"
	KindVeth     = "veth" // its peer inside (Peer), or outside (--external veth)
)

// linksVersion is the Version of the LinksImage this package writes.
const linksVersion = 1

// maxLinksImage caps the size of an iplinks-N.img read back.
const maxLinksImage = 16 << 20

// LinksImage is the content of iplinks-N.img: a JSON document of ours
// (not a CRIU format) listing the namespace's links.
type LinksImage struct {
	Version int    `json:"version"`
	Links   []Link `json:"links"`
}

// Link is one network device of the namespace.
type Link struct {
	Index   int    `json:"index"` // ifindex; the ip images refer to it
	Name    string `json:"name"`
	Kind    string `json:"kind"` // KindLoopback, KindDummy, KindVeth or KindBridge
	MTU     int    `json:"mtu"`
	Up      bool   `json:"up"`                // IFF_UP set
	Address string `json:"address,omitempty"` // link-layer address, not for lo
	// Peer is the name of a veth link's peer when the peer is in the
	// namespace too; empty when it is outside (an external veth).
	Peer string `json:"peer,omitempty"`
	// Bridge holds a bridge's settings as `ip link add ... type bridge`
	// arguments (bridge.go).
	Bridge []string `json:"bridge,omitempty"`
	// Master names the bridge this link is a port of, and Port its port
	// settings as `ip link set ... type bridge_slave` arguments.
	Master string   `json:"master,omitempty"`
	Port   []string `json:"bridge_port,omitempty"`
	// Macvlan holds a macvlan's settings, and Lower its lower link when
	// that is in the namespace too (empty: outside, named at restore).
	Macvlan *Macvlan `json:"macvlan,omitempty"`
	Lower   string   `json:"lower,omitempty"`
	// Tun holds a tun/tap device's settings (package tun).
	Tun *TunSettings `json:"tun,omitempty"`
}

// ipLink is the part of `ip -d -j link show` output that we read.
type ipLink struct {
	Index    int      `json:"ifindex"`
	Name     string   `json:"ifname"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	LinkType string   `json:"link_type"`
	Address  string   `json:"address"`
	Link     string   `json:"link"`         // the peer's name, when in this netns
	NetnsID  *int     `json:"link_netnsid"` // set when the peer is in another netns
	Master   string   `json:"master"`
	LinkInfo *struct {
		Kind      string         `json:"info_kind"`
		Data      map[string]any `json:"info_data"`
		SlaveKind string         `json:"info_slave_kind"`
		SlaveData map[string]any `json:"info_slave_data"`
	} `json:"linkinfo"`
}

// parseIPLinks turns `ip -d -j link show` output into Links, sorted by
// ifindex. A link of a kind Restore cannot recreate is ErrUnsupportedLink.
func parseIPLinks(out []byte) ([]Link, error) {
	var raw []ipLink
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("parse ip link output: %w", err)
	}
	links := make([]Link, 0, len(raw))
	for _, r := range raw {
		l := Link{Index: r.Index, Name: r.Name, MTU: r.MTU, Up: slices.Contains(r.Flags, "UP")}
		kind := ""
		if r.LinkInfo != nil {
			kind = r.LinkInfo.Kind
		}
		switch {
		case r.LinkType == "loopback":
			l.Kind = KindLoopback
		case kind == KindDummy:
			l.Kind = kind
			l.Address = r.Address
		case kind == KindVeth:
			l.Kind = kind
			l.Address = r.Address
			if r.NetnsID == nil {
				if r.Link == "" {
					return nil, fmt.Errorf("veth %s: ip names neither its peer nor the peer's namespace", r.Name)
				}
				l.Peer = r.Link
			}
		case kind == KindBridge:
			l.Kind = kind
			l.Address = r.Address
			if err := bridgeLink(&l, r.LinkInfo.Data); err != nil {
				return nil, err
			}
		case kind == KindTun:
			// Its settings come from rtnetlink and its files (Dump).
			l.Kind = kind
			if r.LinkType == "ether" {
				l.Address = r.Address // a tap's
			}
		case kind == KindMacvlan:
			l.Kind = kind
			l.Address = r.Address
			if r.NetnsID == nil && r.Link == "" {
				return nil, fmt.Errorf("macvlan %s: ip names neither its lower link nor the lower link's namespace", r.Name)
			}
			lower := r.Link
			if r.NetnsID != nil {
				lower = ""
			}
			if err := macvlanLink(&l, lower, r.LinkInfo.Data); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("link %s (type %q kind %q): %w", r.Name, r.LinkType, kind, ErrUnsupportedLink)
		}
		if r.Master != "" {
			var sk string
			var sd map[string]any
			if r.LinkInfo != nil {
				sk, sd = r.LinkInfo.SlaveKind, r.LinkInfo.SlaveData
			}
			if err := portLink(&l, r.Master, sk, sd); err != nil {
				return nil, err
			}
		}
		links = append(links, l)
	}
	slices.SortFunc(links, func(a, b Link) int { return a.Index - b.Index })
	return links, nil
}

// encodeLinks writes the links image.
func encodeLinks(w io.Writer, links []Link) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(LinksImage{Version: linksVersion, Links: links})
}

// decodeLinks reads a links image of at most maxLinksImage bytes.
func decodeLinks(r io.Reader) ([]Link, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxLinksImage+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxLinksImage {
		return nil, fmt.Errorf("links image over %d bytes: %w", maxLinksImage, ErrBadImage)
	}
	var img LinksImage
	if err := json.Unmarshal(b, &img); err != nil {
		return nil, fmt.Errorf("links image: %w: %v", ErrBadImage, err)
	}
	if img.Version != linksVersion {
		return nil, fmt.Errorf("links image version %d, want %d: %w", img.Version, linksVersion, ErrBadImage)
	}
	byName := map[string]Link{}
	for _, l := range img.Links {
		if l.Name == "" || l.Index <= 0 || l.MTU < 0 {
			return nil, fmt.Errorf("links image: link %q index %d mtu %d: %w", l.Name, l.Index, l.MTU, ErrBadImage)
		}
		byName[l.Name] = l
	}
	for _, l := range img.Links {
		if _, ok := byName[l.Lower]; l.Lower != "" && (!ok || l.Kind != KindMacvlan) {
			return nil, fmt.Errorf("links image: link %s names lower link %s, not a link of the image: %w", l.Name, l.Lower, ErrBadImage)
		}
		if l.Kind == KindTun && l.Tun == nil {
			return nil, fmt.Errorf("links image: tun device %s without its settings: %w", l.Name, ErrBadImage)
		}
		if l.Kind == KindMacvlan && (l.Macvlan == nil || macvlanModes[l.Macvlan.Mode] == 0) {
			return nil, fmt.Errorf("links image: macvlan %s without a mode: %w", l.Name, ErrBadImage)
		}
		if m, ok := byName[l.Master]; l.Master != "" && (!ok || m.Kind != KindBridge) {
			return nil, fmt.Errorf("links image: link %s names master %s, which is not a bridge of the image: %w", l.Name, l.Master, ErrBadImage)
		}
		if l.Peer == "" {
			continue
		}
		if p, ok := byName[l.Peer]; l.Kind != KindVeth || !ok || p.Kind != KindVeth || p.Peer != l.Name {
			return nil, fmt.Errorf("links image: link %s names peer %s, which is not a veth naming it back: %w", l.Name, l.Peer, ErrBadImage)
		}
	}
	return img.Links, nil
}

// linksFromNetdev makes the links of namespace id from the
// NetDeviceEntry list of netdev-N.img, for images CRIU wrote (it has no
// iplinks-N.img): lo, and veth links, a pair inside when the peer's
// namespace (peer_nsid) is this one, else a veth whose peer was outside
// (no peer_nsid: CRIU found the peer in a namespace it does not dump).
// Any other type (a tun, a bridge, a macvlan, an EXTLINK that a CRIU
// plugin makes...) is ErrUnsupportedLink, naming it; a veth whose peer
// is in another namespace of the images, or missing, is ErrBadImage.
func linksFromNetdev(devs []*images.NetDeviceEntry, id uint32) ([]Link, error) {
	byIndex := map[uint32]*images.NetDeviceEntry{}
	for _, d := range devs {
		byIndex[d.GetIfindex()] = d
	}
	links := make([]Link, 0, len(devs))
	for _, d := range devs {
		if err := checkIfName(d.GetName()); err != nil || d.GetIfindex() == 0 {
			return nil, fmt.Errorf("device %q ifindex %d: %w", d.GetName(), d.GetIfindex(), ErrBadImage)
		}
		l := Link{Index: int(d.GetIfindex()), Name: d.GetName(), MTU: int(d.GetMtu()), Up: d.GetFlags()&unix.IFF_UP != 0}
		switch d.GetType() {
		case images.NdType_LOOPBACK:
			l.Kind = KindLoopback
		case images.NdType_VETH:
			l.Kind = KindVeth
			if len(d.GetAddress()) > 0 {
				l.Address = net.HardwareAddr(d.GetAddress()).String()
			}
			if d.PeerNsid != nil {
				p := byIndex[d.GetPeerIfindex()]
				if d.GetPeerNsid() != id || p == nil || p.GetType() != images.NdType_VETH {
					return nil, fmt.Errorf("veth %s: peer ifindex %d in namespace %d, not a veth of namespace %d: %w", d.GetName(), d.GetPeerIfindex(), d.GetPeerNsid(), id, ErrBadImage)
				}
				l.Peer = p.GetName()
			}
		case images.NdType_TUN:
			te := d.GetTun()
			if te == nil {
				return nil, fmt.Errorf("tun device %s without its tun entry: %w", d.GetName(), ErrBadImage)
			}
			l.Kind = KindTun
			l.Tun = &TunSettings{Flags: te.GetFlags(), Owner: te.GetOwner(), Group: te.GetGroup(), VnetHdr: te.GetVnethdr(), SndBuf: te.GetSndbuf()}
			if len(d.GetAddress()) > 0 && te.GetFlags()&unix.IFF_TAP != 0 {
				l.Address = net.HardwareAddr(d.GetAddress()).String()
			}
		case images.NdType_MACVLAN:
			// CRIU's macvlan always has its lower link outside.
			m, err := macvlanFromEntry(d.GetName(), d.GetMacvlan())
			if err != nil {
				return nil, err
			}
			l.Kind, l.Macvlan = KindMacvlan, m
			if len(d.GetAddress()) > 0 {
				l.Address = net.HardwareAddr(d.GetAddress()).String()
			}
		case images.NdType_BRIDGE:
			// CRIU keeps no settings of a bridge: it gets the kernel's
			// defaults, as CRIU's own restore gives it.
			l.Kind = KindBridge
			if len(d.GetAddress()) > 0 {
				l.Address = net.HardwareAddr(d.GetAddress()).String()
			}
		default:
			return nil, fmt.Errorf("link %s (netdev type %v): %w", d.GetName(), d.GetType(), ErrUnsupportedLink)
		}
		if d.Master != nil {
			m := byIndex[d.GetMaster()]
			if m == nil || m.GetType() != images.NdType_BRIDGE {
				return nil, fmt.Errorf("device %s: master ifindex %d is not a bridge of the image: %w", d.GetName(), d.GetMaster(), ErrBadImage)
			}
			l.Master = m.GetName()
		}
		links = append(links, l)
	}
	slices.SortFunc(links, func(a, b Link) int { return a.Index - b.Index })
	return links, nil
}
