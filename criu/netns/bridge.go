package netns

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/criugo/criu/criu/errdefs"
)

// KindBridge is a Linux bridge made inside the namespace.
const KindBridge = "bridge"

// A bridge's settings, as `ip -d -j link show` prints them under
// linkinfo.info_data (key) and as `ip link add ... type bridge` takes
// them back (arg). CRIU 4.2 makes a bridge with the kernel's defaults,
// so STP, timers and multicast settings came back different; these come
// back as they were. vlan_filtering is refused when on: the per-port
// VLAN tables are not saved.
var bridgeOptions = []struct{ key, arg string }{
	{"forward_delay", "forward_delay"},
	{"hello_time", "hello_time"},
	{"max_age", "max_age"},
	{"ageing_time", "ageing_time"},
	{"stp_state", "stp_state"},
	{"priority", "priority"},
	{"group_fwd_mask", "group_fwd_mask"},
	{"group_addr", "group_address"},
	{"mcast_snooping", "mcast_snooping"},
	{"no_linklocal_learn", "no_linklocal_learn"},
	{"mcast_router", "mcast_router"},
	{"mcast_query_use_ifaddr", "mcast_query_use_ifaddr"},
	{"mcast_querier", "mcast_querier"},
	{"mcast_hash_max", "mcast_hash_max"},
	{"mcast_last_member_cnt", "mcast_last_member_count"},
	{"mcast_startup_query_cnt", "mcast_startup_query_count"},
	{"mcast_last_member_intvl", "mcast_last_member_interval"},
	{"mcast_membership_intvl", "mcast_membership_interval"},
	{"mcast_querier_intvl", "mcast_querier_interval"},
	{"mcast_query_intvl", "mcast_query_interval"},
	{"mcast_query_response_intvl", "mcast_query_response_interval"},
	{"mcast_startup_query_intvl", "mcast_startup_query_interval"},
	{"mcast_stats_enabled", "mcast_stats_enabled"},
	{"mcast_igmp_version", "mcast_igmp_version"},
	{"mcast_mld_version", "mcast_mld_version"},
	{"nf_call_iptables", "nf_call_iptables"},
	{"nf_call_ip6tables", "nf_call_ip6tables"},
	{"nf_call_arptables", "nf_call_arptables"},
}

// A bridge port's settings (linkinfo.info_slave_data), given back with
// `ip link set dev PORT type bridge_slave ARG VALUE...`; booleans as
// on/off.
var portOptions = []struct{ key, arg string }{
	{"priority", "priority"},
	{"cost", "cost"},
	{"hairpin", "hairpin"},
	{"guard", "guard"},
	{"root_block", "root_block"},
	{"fastleave", "fastleave"},
	{"learning", "learning"},
	{"flood", "flood"},
	{"proxy_arp", "proxy_arp"},
	{"proxy_arp_wifi", "proxy_arp_wifi"},
	{"multicast_router", "mcast_router"},
	{"mcast_flood", "mcast_flood"},
	{"bcast_flood", "bcast_flood"},
	{"mcast_to_unicast", "mcast_to_unicast"},
	{"neigh_suppress", "neigh_suppress"},
	{"group_fwd_mask", "group_fwd_mask"},
	{"isolated", "isolated"},
	{"locked", "locked"},
}

// optionArgs turns ip's JSON values of the listed options into ip's
// arguments, in table order (an option ip does not print is left at the
// kernel's default).
func optionArgs(data map[string]any, table []struct{ key, arg string }) ([]string, error) {
	var args []string
	for _, o := range table {
		v, ok := data[o.key]
		if !ok {
			continue
		}
		var s string
		switch v := v.(type) {
		case bool:
			s = "off"
			if v {
				s = "on"
			}
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		case string:
			s = v
		default:
			return nil, fmt.Errorf("option %s: value %v of type %T", o.key, v, v)
		}
		args = append(args, o.arg, s)
	}
	return args, nil
}

// bridgeLink fills a bridge's settings into l from ip's info_data.
func bridgeLink(l *Link, data map[string]any) error {
	if v, _ := data["vlan_filtering"].(float64); v != 0 {
		return fmt.Errorf("%w: bridge %s filters VLANs (vlan_filtering 1): its ports' VLAN tables cannot be saved", errdefs.ErrUnsupported, l.Name)
	}
	args, err := optionArgs(data, bridgeOptions)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", l.Name, err)
	}
	l.Bridge = args
	return nil
}

// portLink fills the master and port settings of a link enslaved to
// master into l. Only a bridge of the namespace can be a master.
func portLink(l *Link, master, slaveKind string, data map[string]any) error {
	if slaveKind != KindBridge {
		return fmt.Errorf("%w: link %s is a port of %s, a %q master (only bridges are restored)", errdefs.ErrUnsupported, l.Name, master, slaveKind)
	}
	args, err := optionArgs(data, portOptions)
	if err != nil {
		return fmt.Errorf("bridge port %s: %w", l.Name, err)
	}
	l.Master, l.Port = master, args
	return nil
}

// restorePorts makes each link that was a bridge's port a port again,
// with its settings, once every link exists; then gives each bridge its
// address where the kernel chose another one. A bridge takes the lowest
// address of its ports unless one was set: setting it before the ports
// would pin it, so it is set only when it differs (a bridge whose
// address was set, or one without ports, which had a random one).
func restorePorts(ctx context.Context, t tool, links []Link) error {
	for _, l := range links {
		if l.Master == "" {
			continue
		}
		if err := t.run(ctx, "link", "set", "dev", l.Name, "master", l.Master); err != nil {
			return fmt.Errorf("link %s: port of bridge %s: %w", l.Name, l.Master, err)
		}
		if len(l.Port) > 0 {
			args := append([]string{"link", "set", "dev", l.Name, "type", "bridge_slave"}, l.Port...)
			if err := t.run(ctx, args...); err != nil {
				return fmt.Errorf("link %s: bridge port settings: %w", l.Name, err)
			}
		}
	}
	for _, l := range links {
		if l.Kind != KindBridge || l.Address == "" {
			continue
		}
		want, err := net.ParseMAC(l.Address)
		if err != nil {
			return fmt.Errorf("bridge %s: address %q: %w", l.Name, l.Address, ErrBadImage)
		}
		var now net.HardwareAddr
		err = t.ns.do(func() error {
			ifi, err := net.InterfaceByName(l.Name)
			if err == nil {
				now = ifi.HardwareAddr
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("bridge %s: %w", l.Name, err)
		}
		if now.String() == want.String() {
			continue
		}
		if err := t.run(ctx, "link", "set", "dev", l.Name, "address", l.Address); err != nil {
			return fmt.Errorf("bridge %s: address: %w", l.Name, err)
		}
	}
	return nil
}
