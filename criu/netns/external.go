package netns

import (
	"fmt"
	"strings"
)

// ParseExternal parses one value of CRIU's --external option. For a
// veth spec, veth[INNER]:OUTER or veth[INNER]:OUTER@BRIDGE, it returns
// the link's name inside the namespace, the rest as CRIU keeps it (the
// peer's name outside, then @ and the bridge to attach the peer to, if
// given: RestoreOptions.Veth takes it so) and ok; for a macvlan spec,
// macvlan[INNER]:PARENT, the macvlan's name and its lower link's name
// outside (RestoreOptions.Veth too: a name is one link's); for a netdev
// spec, netdev[INNER]:DEVICE (a veth whose peer was outside, made again
// before the restore: DEVICE is moved in as INNER with its old index),
// the link's name and DEVICE marked as one to move. Other kinds
// of external resource (mnt[...], dev[...], unix[...]...) give ok false
// and no error, for the caller to handle. A malformed spec or a name the
// kernel would refuse is an error wrapping ErrBadExternal.
func ParseExternal(spec string) (inner, outer string, ok bool, err error) {
	rest, isVeth := strings.CutPrefix(spec, "veth[")
	mrest, isMacvlan := strings.CutPrefix(spec, "macvlan[")
	nrest, isNetdev := strings.CutPrefix(spec, "netdev[")
	if !isVeth && !isMacvlan && !isNetdev {
		return "", "", false, nil
	}
	if isMacvlan || isNetdev {
		kind, r, want := "macvlan", mrest, "PARENT"
		if isNetdev {
			kind, r, want = "netdev", nrest, "DEVICE"
		}
		inner, other, found := strings.Cut(r, "]:")
		if !found {
			return "", "", false, fmt.Errorf("%w: %q: want %s[INNER]:%s", ErrBadExternal, spec, kind, want)
		}
		for _, n := range []string{inner, other} {
			if err := checkIfName(n); err != nil {
				return "", "", false, fmt.Errorf("%w: %q: %v", ErrBadExternal, spec, err)
			}
		}
		if isNetdev {
			return inner, movedPrefix + other, true, nil
		}
		return inner, other, true, nil
	}
	inner, outer, found := strings.Cut(rest, "]:")
	if !found {
		return "", "", false, fmt.Errorf("%w: %q: want veth[INNER]:OUTER", ErrBadExternal, spec)
	}
	names := []string{inner}
	peer, bridge, hasBridge := strings.Cut(outer, "@")
	names = append(names, peer)
	if hasBridge {
		names = append(names, bridge)
	}
	for _, n := range names {
		if err := checkIfName(n); err != nil {
			return "", "", false, fmt.Errorf("%w: %q: %v", ErrBadExternal, spec, err)
		}
	}
	return inner, outer, true, nil
}

// splitPeer splits the value of a veth spec (ParseExternal's outer) into
// the peer's name and the bridge it is attached to ("" for none).
func splitPeer(outer string) (name, bridge string) {
	name, bridge, _ = strings.Cut(outer, "@")
	return name, bridge
}

// checkIfName applies the kernel's rules for a network device name
// (dev_valid_name): 1 to 15 bytes, not "." or "..", no '/', ':' or
// white space.
func checkIfName(n string) error {
	switch {
	case n == "":
		return fmt.Errorf("empty interface name")
	case len(n) > 15:
		return fmt.Errorf("interface name %q longer than 15 bytes", n)
	case n == "." || n == "..":
		return fmt.Errorf("interface name %q", n)
	case strings.ContainsAny(n, "/: \t\n\v\f\r"):
		return fmt.Errorf("interface name %q has '/', ':' or white space", n)
	}
	return nil
}
