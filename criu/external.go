package main

import (
	"regexp"
	"strings"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/tty"
)

// externalHelp is the --external help text of restore; dumpExternalHelp
// dump's.
const (
	externalHelp     = "an external resource; `veth[IFNAME]:OUTNAME[@BRIDGE]`: the veth IFNAME of the tree's network namespace, whose peer was outside it, gets its peer created as OUTNAME in criu's network namespace (down, or with @BRIDGE attached to that bridge and up); or netdev[IFNAME]:DEV, instead of making the veth IFNAME, the veth DEV of criu's network namespace is moved in as IFNAME with IFNAME's index, MTU and address; or macvlan[IFNAME]:PARENT, the macvlan IFNAME whose lower link was outside is made on PARENT of criu's network namespace; or mnt[KEY]:PATH, the external mount saved by KEY is bound from PATH; a value of no KIND[...] form, which no image can refer to, is ignored, as CRIU. Repeatable"
	dumpExternalHelp = "an external resource: `veth[IFNAME]:OUTNAME`, accepted and not needed (a veth whose peer is outside the namespace is dumped without a name, as CRIU does; restore is given it); or tty[RDEV:DEV], a terminal whose other end is outside the tree (a container's console; RDEV and DEV in hex, as an error names it), which restore is given with --inherit-fd fd[N]:tty[RDEV:DEV]; or mnt[MOUNTPOINT]:KEY, a mount of the tree's mount namespace whose source is outside it, saved by KEY; or net[INODE]:KEY, the tree's network namespace (of that inode) is not saved but named KEY, and restore joins the one given with --inherit-fd fd[N]:KEY (runc's, Podman's). Repeatable"
)

// resourceKind matches an --external value of CRIU's KIND[...] form.
var resourceKind = regexp.MustCompile(`^[a-z]+\[`)

// addExternalFlag adds restore's --external to fs and returns a parser
// of what was given: the veth map (inner name -> outer name), and the
// values restore has no use for (ignored, which the caller logs).
//
// As CRIU's restore, which keeps every --external value in a list that
// only some objects look keys up in, a value of no resource kind (no
// KIND[...] form) is ignored: no image can refer to it. LXC passes
// "--external console:/dev/pts/N" after a network of type empty or none
// (the buffer of its previous option, --ext-mount-map's). Values of a
// kind restore does not take are refused (parseExternal).
func addExternalFlag(fs *pflag.FlagSet) func() (veth map[string]string, ignored []string, err error) {
	vals := fs.StringArray("external", nil, externalHelp)
	return func() (map[string]string, []string, error) {
		var rest, ignored []string
		for _, v := range *vals {
			switch {
			case strings.HasPrefix(v, "mnt["): // addRestoreMountFlags
			case strings.HasPrefix(v, "net["):
				// The images name the key; the namespace is the
				// --inherit-fd given for it, as CRIU.
			case !resourceKind.MatchString(v):
				ignored = append(ignored, v)
			default:
				rest = append(rest, v)
			}
		}
		veth, err := parseExternal(rest)
		return veth, ignored, err
	}
}

// addDumpExternalFlag adds dump's --external to fs and returns a parser
// of what was given: the veth map, the external terminals by key, and
// the external network namespace by inode (net[INODE]:KEY).
func addDumpExternalFlag(fs *pflag.FlagSet) func() (map[string]string, map[string]bool, map[uint64]string, error) {
	vals := fs.StringArray("external", nil, dumpExternalHelp)
	return func() (map[string]string, map[string]bool, map[uint64]string, error) {
		var rest []string
		var ttys map[string]bool
		var nets map[uint64]string
		for _, v := range *vals {
			if strings.HasPrefix(v, "mnt[") {
				continue // addDumpMountFlags
			}
			if ino, key, ok, err := netns.ParseExternalNet(v); err != nil || ok {
				if err != nil {
					return nil, nil, nil, usagef("--external: %v", err)
				}
				if nets == nil {
					nets = map[uint64]string{}
				}
				nets[ino] = key
				continue
			}
			key, ok, err := tty.ParseTTYKey(v)
			if err != nil {
				return nil, nil, nil, usagef("--external: %v", err)
			}
			if !ok {
				rest = append(rest, v)
				continue
			}
			if ttys == nil {
				ttys = map[string]bool{}
			}
			ttys[key] = true
		}
		veth, err := parseExternal(rest)
		return veth, ttys, nets, err
	}
}

// parseExternal reads CRIU's --external values (netns.ParseExternal).
// Only the veth, netdev and macvlan forms are supported; any other is refused by name, since
// ignoring it would change what is dumped or restored.
func parseExternal(vals []string) (map[string]string, error) {
	var veth map[string]string
	for _, v := range vals {
		in, out, ok, err := netns.ParseExternal(v)
		if err != nil {
			return nil, usagef("--external: %v", err)
		}
		if !ok {
			kind, _, _ := strings.Cut(v, "[")
			if kind == "tty" {
				// The images say which terminals were external.
				return nil, usagef("--external %q: a terminal is named external at dump; restore is given it with --inherit-fd fd[N]:%s", v, v)
			}
			return nil, usagef("--external %q: only veth[IFNAME]:OUTNAME, netdev[IFNAME]:DEV and macvlan[IFNAME]:PARENT are supported, not %q", v, kind)
		}
		if veth == nil {
			veth = map[string]string{}
		}
		if _, dup := veth[in]; dup {
			return nil, usagef("--external %q: link %s given twice", v, in)
		}
		veth[in] = out
	}
	return veth, nil
}
