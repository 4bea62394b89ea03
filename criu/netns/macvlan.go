package netns

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"

	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/proto/images"
)

// KindMacvlan is a macvlan link: a second address on a lower link,
// which may be outside the namespace (then restore is given the lower
// link's name there with CRIU's --external macvlan[IFNAME]:PARENT).
const KindMacvlan = "macvlan"

// Macvlan is what a macvlan link is made with again.
type Macvlan struct {
	Mode string `json:"mode"`           // private, vepa, bridge or passthru
	Flag string `json:"flag,omitempty"` // "nopromisc" (passthru) or ""
	// BcQueueLen is the broadcast queue's length asked for (0: the
	// kernel's default).
	BcQueueLen int `json:"bcqueuelen,omitempty"`
}

// Macvlan modes and flags as rtnetlink numbers them (CRIU's image keeps
// the numbers).
var macvlanModes = map[string]uint32{"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}

const (
	macvlanNoPromisc = 1
	macvlanNoDst     = 2
	iflaMacvlanMode  = 1
	iflaMacvlanFlags = 2
)

// macvlanLink fills a macvlan's settings into l from ip's info_data and
// its lower link's name (empty when the lower link is outside). A
// source-mode macvlan (its list of source addresses is not saved) is
// refused by name.
func macvlanLink(l *Link, lower string, data map[string]any) error {
	mode, _ := data["mode"].(string)
	if _, ok := macvlanModes[mode]; !ok || mode == "source" {
		return fmt.Errorf("%w: macvlan %s in mode %q: only private, vepa, bridge and passthru are restored", errdefs.ErrUnsupported, l.Name, mode)
	}
	m := &Macvlan{Mode: mode}
	if v, _ := data["nopromisc"].(bool); v {
		m.Flag = "nopromisc"
	}
	if v, _ := data["nodst"].(bool); v {
		return fmt.Errorf("%w: macvlan %s has the nodst flag, which only source mode takes", errdefs.ErrUnsupported, l.Name)
	}
	if q, ok := data["bcqueuelen"].(float64); ok && q != 1000 {
		m.BcQueueLen = int(q)
	}
	l.Macvlan, l.Lower = m, lower
	return nil
}

// macvlanArgs are the `ip link add` arguments after "type macvlan".
func macvlanArgs(m *Macvlan) []string {
	args := []string{"mode", m.Mode}
	if m.Flag != "" {
		args = append(args, m.Flag)
	}
	if m.BcQueueLen > 0 {
		args = append(args, "bcqueuelen", strconv.Itoa(m.BcQueueLen))
	}
	return args
}

// macvlanEntry is CRIU's macvlan_link_entry of a link, from the
// rtnetlink IFLA_INFO_DATA of the macvlan.
func macvlanEntry(name string, data []byte) (*images.MacvlanLinkEntry, error) {
	var e images.MacvlanLinkEntry
	eachAttr(data, func(typ uint16, v []byte) {
		switch {
		case typ == iflaMacvlanMode && len(v) >= 4:
			e.Mode = new(binary.NativeEndian.Uint32(v))
		case typ == iflaMacvlanFlags && len(v) >= 2:
			e.Flags = new(uint32(binary.NativeEndian.Uint16(v)))
		}
	})
	if e.Mode == nil {
		return nil, fmt.Errorf("macvlan %s: rtnetlink gives no mode", name)
	}
	return &e, nil
}

// macvlanFromEntry reads CRIU's macvlan_link_entry back.
func macvlanFromEntry(name string, e *images.MacvlanLinkEntry) (*Macvlan, error) {
	if e == nil {
		return nil, fmt.Errorf("macvlan %s: no macvlan entry: %w", name, ErrBadImage)
	}
	for mode, n := range macvlanModes {
		if n == e.GetMode() && mode != "source" {
			m := &Macvlan{Mode: mode}
			switch e.GetFlags() {
			case 0:
			case macvlanNoPromisc:
				m.Flag = "nopromisc"
			default:
				return nil, fmt.Errorf("%w: macvlan %s: flags %#x", ErrUnsupportedLink, name, e.GetFlags())
			}
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: macvlan %s: mode %d", ErrUnsupportedLink, name, e.GetMode())
}

// restoreMacvlan makes macvlan l in t's namespace: on its lower link
// there, or, when that was outside, on the link PARENT that
// --external macvlan[NAME]:PARENT names in opts.PeerNS (criu's own
// namespace when nil, as CRIU does), created from there straight into
// t's namespace with its index.
func restoreMacvlan(ctx context.Context, t tool, l Link, opts RestoreOptions) error {
	if l.Lower != "" {
		args := append(append([]string{"link", "add", "link", l.Lower}, linkArgs(l)...), "type", "macvlan")
		return t.run(ctx, append(args, macvlanArgs(l.Macvlan)...)...)
	}
	parent := opts.Veth[l.Name]
	if parent == "" {
		return fmt.Errorf("%w: macvlan %s had its lower link outside the namespace (give it with --external macvlan[%s]:PARENT)", ErrNoVethPeer, l.Name, l.Name)
	}
	outer := opts.PeerNS
	if outer == nil {
		own, err := OpenPid(os.Getpid())
		if err != nil {
			return err
		}
		defer own.Close()
		outer = own
	}
	f, err := t.ns.file()
	if err != nil {
		return err
	}
	// The child sees f as fd 3.
	args := append(append([]string{"link", "add", "link", parent}, linkArgs(l)...), "netns", "/proc/self/fd/3", "type", "macvlan")
	return tool{path: t.path, ns: outer}.runFiles(ctx, nil, nil, []*os.File{f}, append(args, macvlanArgs(l.Macvlan)...)...)
}
