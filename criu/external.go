package main

import (
	"strings"

	"github.com/spf13/pflag"
)

// externalHelp is the --external help text of dump and restore.
const externalHelp = "an external resource; only `veth[IFNAME]:OUTNAME` is supported: the veth IFNAME of the tree's network namespace, whose peer is OUTNAME outside it (restore creates the peer; dump accepts the option and saves the link anyway). Repeatable"

// addExternalFlag adds --external to fs and returns a parser of what was
// given: the veth map (inner name -> outer name).
func addExternalFlag(fs *pflag.FlagSet) func() (map[string]string, error) {
	vals := fs.StringArray("external", nil, externalHelp)
	return func() (map[string]string, error) { return parseExternal(*vals) }
}

// parseExternal reads CRIU's --external values. Only the veth form is
// supported; any other is refused by name, since ignoring it would change
// what is restored.
func parseExternal(vals []string) (map[string]string, error) {
	var veth map[string]string
	for _, v := range vals {
		rest, ok := strings.CutPrefix(v, "veth[")
		if !ok {
			kind, _, _ := strings.Cut(v, "[")
			return nil, usagef("--external %q: only veth[IFNAME]:OUTNAME is supported, not %q", v, kind)
		}
		in, out, ok := strings.Cut(rest, "]")
		if !ok || in == "" {
			return nil, usagef("--external %q: want veth[IFNAME]:OUTNAME", v)
		}
		out, ok = strings.CutPrefix(out, ":")
		if !ok || out == "" {
			return nil, usagef("--external %q: want veth[IFNAME]:OUTNAME (the peer's name outside)", v)
		}
		if len(in) > 15 || len(out) > 15 || strings.ContainsAny(in+out, "/ \t:") {
			return nil, usagef("--external %q: bad interface name", v)
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
