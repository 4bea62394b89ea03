package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/proto/images"
)

// The sysctls that netns-N.img holds, in CRIU's order (criu/net.c):
// each list's index is the position of its value in the image.
var (
	devconfs4 = []string{
		"accept_local", "accept_redirects", "accept_source_route", "arp_accept", "arp_announce",
		"arp_filter", "arp_ignore", "arp_notify", "bootp_relay", "disable_policy", "disable_xfrm",
		"force_igmp_version", "forwarding", "igmpv2_unsolicited_report_interval",
		"igmpv3_unsolicited_report_interval", "log_martians", "medium_id", "promote_secondaries",
		"proxy_arp", "proxy_arp_pvlan", "route_localnet", "rp_filter", "secure_redirects",
		"send_redirects", "shared_media", "src_valid_mark", "tag", "ignore_routes_with_linkdown",
		"drop_gratuitous_arp", "drop_unicast_in_l2_multicast",
	}
	devconfs6 = []string{
		"accept_dad", "accept_ra", "accept_ra_defrtr", "accept_ra_from_local",
		"accept_ra_min_hop_limit", "accept_ra_mtu", "accept_ra_pinfo", "accept_ra_rt_info_max_plen",
		"accept_ra_rtr_pref", "accept_redirects", "accept_source_route", "autoconf", "dad_transmits",
		"disable_ipv6", "drop_unicast_in_l2_multicast", "drop_unsolicited_na", "force_mld_version",
		"force_tllao", "forwarding", "hop_limit", "ignore_routes_with_linkdown", "keep_addr_on_down",
		"max_addresses", "max_desync_factor", "mldv1_unsolicited_report_interval",
		"mldv2_unsolicited_report_interval", "mtu", "ndisc_notify", "optimistic_dad", "proxy_ndp",
		"regen_max_retry", "router_probe_interval", "router_solicitation_delay",
		"router_solicitation_interval", "router_solicitations", "stable_secret",
		"suppress_frag_ndisc", "temp_prefered_lft", "temp_valid_lft", "use_oif_addrs_only",
		"use_optimistic", "use_tempaddr",
	}
	unixConfs = []string{"max_dgram_qlen"}
	ipv4Ctls  = []string{"ping_group_range"}
)

// strSysctls are the sysctls kept as strings (CTL_STR); all others are
// 32-bit integers (CTL_32).
var strSysctls = map[string]bool{"stable_secret": true, "ping_group_range": true}

// sysctlGroup is one list of netns-N.img: the /proc/sys directory its
// names are under and its entries.
type sysctlGroup struct {
	dir     string
	names   []string
	entries *[]*images.SysctlEntry
}

// groups lists e's sysctl lists in CRIU's restore order: "all" before
// "default" (writing all/forwarding also sets default's).
func groups(e *images.NetnsEntry) []sysctlGroup {
	return []sysctlGroup{
		{"net/ipv4/conf/all", devconfs4, &e.AllConf4},
		{"net/ipv4/conf/default", devconfs4, &e.DefConf4},
		{"net/ipv6/conf/all", devconfs6, &e.AllConf6},
		{"net/ipv6/conf/default", devconfs6, &e.DefConf6},
		{"net/unix", unixConfs, &e.UnixConf},
		{"net/ipv4", ipv4Ctls, &e.Ipv4Sysctl},
	}
}

// readNetns reads the sysctls of netns-N.img. It must run on a thread
// inside the namespace.
func readNetns() (*images.NetnsEntry, error) {
	e := &images.NetnsEntry{}
	for _, g := range groups(e) {
		var err error
		if *g.entries, err = readGroup(g.dir, g.names); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// readGroup reads /proc/sys/DIR/NAME for each name, from a thread
// inside the namespace. A sysctl this kernel lacks (or, for
// stable_secret, one never set: EIO) is kept without a value.
func readGroup(dir string, names []string) ([]*images.SysctlEntry, error) {
	out := make([]*images.SysctlEntry, 0, len(names))
	for _, name := range names {
		path := "/proc/sys/" + dir + "/" + name
		se := &images.SysctlEntry{Type: images.SysctlType_CTL_32.Enum()}
		if strSysctls[name] {
			se.Type = images.SysctlType_CTL_STR.Enum()
		}
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.EIO):
		case err != nil:
			return nil, err
		case strSysctls[name]:
			se.Sarg = proto.String(strings.TrimSpace(string(b)))
		default:
			v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			se.Iarg = proto.Int32(int32(v))
		}
		out = append(out, se)
	}
	return out, nil
}

// sysctlValue renders a saved value as the sysctl file takes it; ok is
// false for an entry without a value.
func sysctlValue(se *images.SysctlEntry) (string, bool) {
	switch {
	case se.Iarg != nil:
		return strconv.Itoa(int(se.GetIarg())), true
	case se.Sarg != nil:
		return se.GetSarg(), true
	}
	return "", false
}

// writeNetns sets the sysctls saved in e that differ from the
// namespace's, on a thread inside it.
func writeNetns(e *images.NetnsEntry) error {
	for _, g := range groups(e) {
		if err := writeGroup(g.dir, g.names, *g.entries); err != nil {
			return err
		}
	}
	return nil
}

// writeGroup sets /proc/sys/DIR/NAME to each saved value that differs
// from the current one, from a thread inside the namespace.
// accept_redirects goes last, as it depends on forwarding. Entries past
// names (from a newer CRIU) are skipped.
func writeGroup(dir string, names []string, entries []*images.SysctlEntry) error {
	var last []func() error
	for i, se := range entries {
		if i >= len(names) {
			break
		}
		v, ok := sysctlValue(se)
		if !ok {
			continue
		}
		path := "/proc/sys/" + dir + "/" + names[i]
		set := func() error {
			cur, err := os.ReadFile(path)
			if err == nil && strings.Join(strings.Fields(string(cur)), " ") == strings.Join(strings.Fields(v), " ") {
				return nil
			}
			if err := os.WriteFile(path, []byte(v), 0); err != nil {
				return fmt.Errorf("set %s to %q: %w", path, v, err)
			}
			return nil
		}
		if names[i] == "accept_redirects" {
			last = append(last, set)
			continue
		}
		if err := set(); err != nil {
			return err
		}
	}
	for _, set := range last {
		if err := set(); err != nil {
			return err
		}
	}
	return nil
}
