package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/netns"
)

// externalHelp is the --external help text of dump and restore.
const externalHelp = "an external resource; only `veth[IFNAME]:OUTNAME` is supported: the veth IFNAME of the tree's network namespace, whose peer is OUTNAME outside it (dump needs it for such a veth, restore creates the peer under that name). Repeatable"

// addExternalFlag adds --external to fs and returns a parser of what was
// given: the veth map (inner name -> outer name).
func addExternalFlag(fs *pflag.FlagSet) func() (map[string]string, error) {
	vals := fs.StringArray("external", nil, externalHelp)
	return func() (map[string]string, error) { return parseExternal(*vals) }
}

// parseExternal reads CRIU's --external values (netns.ParseExternal).
// Only the veth form is supported; any other is refused by name, since
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
			return nil, usagef("--external %q: only veth[IFNAME]:OUTNAME is supported, not %q", v, kind)
		}
		if veth == nil {
			veth = map[string]string{}
		}
		if _, dup := veth[in]; dup {
			return nil, usagef("--external %q: veth %s given twice", v, in)
		}
		veth[in] = out
	}
	return veth, nil
}
