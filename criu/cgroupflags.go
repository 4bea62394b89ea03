package main

import (
	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/cgroup"
)

// addCgroupFlags adds CRIU's cgroup options to fs (dump: the properties
// and controllers to save too) and returns what turns them into
// cgroup.Options.
func addCgroupFlags(fs *pflag.FlagSet, dump bool) func() (cgroup.Options, error) {
	mode := fs.String("manage-cgroups", "soft", "cgroups: `MODE` none, props, soft, full, strict or ignore (CRIU's meanings; ignore: not saved nor restored)")
	fs.Lookup("manage-cgroups").NoOptDefVal = "soft"
	roots := fs.StringArray("cgroup-root", nil, "`[CONTROLLER:]/PATH`: dump: the top cgroup saved of a hierarchy; restore: where that top cgroup goes (every hierarchy's without CONTROLLER)")
	yard := fs.String("cgroup-yard", "", "`DIR` holding one mount per cgroup hierarchy (DIR/cpu,cpuacct, DIR/unified) instead of criu's own mounts")
	var props, propsFile *string
	var ctrls *[]string
	if dump {
		props = fs.String("cgroup-props", "", "controllers' properties to save, in CRIU's simplified YAML (`SPEC`)")
		propsFile = fs.String("cgroup-props-file", "", "same as --cgroup-props, read from `FILE`")
		ctrls = fs.StringArray("cgroup-dump-controller", nil, "save only the hierarchies of controller `NAME` (repeatable)")
	}
	return func() (cgroup.Options, error) {
		var o cgroup.Options
		var err error
		if o.Mode, err = cgroup.ParseMode(*mode); err != nil {
			return o, usagef("%v", err)
		}
		o.Roots = map[string]string{}
		for _, r := range *roots {
			if err := cgroup.ParseRoot(o.Roots, r); err != nil {
				return o, usagef("%v", err)
			}
		}
		o.Yard = *yard
		if dump {
			o.Props = cgroup.DefaultProps()
			if *props != "" {
				if err := o.Props.ParseProps(*props); err != nil {
					return o, usagef("%v", err)
				}
			}
			if *propsFile != "" {
				if err := o.Props.ParsePropsFile(*propsFile); err != nil {
					return o, usagef("%v", err)
				}
			}
			o.DumpControllers = *ctrls
		}
		return o, nil
	}
}
