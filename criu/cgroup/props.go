package cgroup

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// builtinProps are the properties saved per controller, in the order
// they are written back (memory.limit_in_bytes before
// memory.memsw.limit_in_bytes, cpuset.cpus and mems first): CRIU's list
// for cgroup v1, and the v2 files of the same knobs.
var builtinProps = map[string][]string{
	"cpu": {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.rt_period_us", "cpu.rt_runtime_us",
		"cpu.weight", "cpu.max"},
	"memory": {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.swappiness", "memory.soft_limit_in_bytes",
		"memory.move_charge_at_immigrate", "memory.oom_control", "memory.use_hierarchy", "memory.kmem.limit_in_bytes",
		"memory.kmem.tcp.limit_in_bytes",
		"memory.min", "memory.low", "memory.high", "memory.max", "memory.swap.max"},
	"cpuset": {"cpuset.cpus", "cpuset.mems", "cpuset.memory_migrate", "cpuset.cpu_exclusive", "cpuset.mem_exclusive",
		"cpuset.mem_hardwall", "cpuset.memory_spread_page", "cpuset.memory_spread_slab", "cpuset.sched_load_balance",
		"cpuset.sched_relax_domain_level", "cpuset.cpus.partition"},
	"blkio":      {"blkio.weight"},
	"io":         {"io.weight", "io.max"},
	"freezer":    {},
	"perf_event": {},
	"net_cls":    {"net_cls.classid"},
	"net_prio":   {"net_prio.ifpriomap"},
	"pids":       {"pids.max"},
	"devices":    {"devices.list"},
}

// globalProps are saved in every v1 directory (CRIU's
// ____criu_global_props____); cgroup.procs and tasks for their owner and
// mode only.
var globalProps = []string{"cgroup.clone_children", "notify_on_release", "cgroup.procs", "tasks"}

// unifiedProps are saved in every directory of the v2 hierarchy, before
// its controllers' (the subtree's controllers must be enabled first).
var unifiedProps = []string{"cgroup.subtree_control", "cgroup.max.descendants", "cgroup.max.depth"}

// permsOnly are the properties whose value is not saved nor written.
var permsOnly = map[string]bool{"cgroup.procs": true, "tasks": true}

// Props is the list of properties saved per controller: the built-in
// one, changed by ParseProps.
type Props map[string][]string

// DefaultProps returns a copy of the built-in list.
func DefaultProps() Props {
	p := Props{}
	for k, v := range builtinProps {
		p[k] = slices.Clone(v)
	}
	return p
}

// of returns the properties of the controllers of a hierarchy (cnames),
// then the global ones, in CRIU's order.
func (p Props) of(cnames []string) []string {
	var out []string
	if len(cnames) == 1 && cnames[0] == "" {
		// v2: the files of every controller the directory has (those
		// it lacks are skipped).
		for _, c := range []string{"cpuset", "cpu", "memory", "io", "pids"} {
			out = append(out, p[c]...)
		}
		return append(out, unifiedProps...)
	}
	for _, c := range cnames {
		out = append(out, p[c]...)
	}
	return append(out, globalProps...)
}

// ParseProps adds to p the controllers of spec, CRIU's --cgroup-props
// format (a simplified YAML, quotes and layout required):
//
//	"CTRL":
//	 - "strategy": "merge"|"replace"
//	 - "properties": ["a", "b"]
//
// merge appends the properties to the controller's list, replace
// replaces it.
func (p Props) ParseProps(spec string) error {
	s := spec
	bad := func(what string) error {
		return fmt.Errorf("--cgroup-props: expected %s at offset %d", what, len(spec)-len(s))
	}
	quoted := func() (string, bool) {
		s = strings.TrimLeft(s, " ")
		if !strings.HasPrefix(s, `"`) {
			return "", false
		}
		end := strings.IndexByte(s[1:], '"')
		if end <= 0 {
			return "", false
		}
		v := s[1 : end+1]
		s = s[end+2:]
		return v, true
	}
	eat := func(tok string) bool {
		t := strings.TrimLeft(s, " ")
		if !strings.HasPrefix(t, tok) {
			return false
		}
		s = t[len(tok):]
		return true
	}
	for strings.TrimSpace(s) != "" {
		s = strings.TrimLeft(s, " \n")
		ctrl, ok := quoted()
		if !ok {
			return bad("a quoted controller name")
		}
		if !eat(":\n") || !eat("- ") || !eat(`"strategy":`) {
			return bad(`:\n - "strategy":`)
		}
		strategy, ok := quoted()
		if !ok || (strategy != "merge" && strategy != "replace") {
			return bad(`"merge" or "replace"`)
		}
		if !eat("\n") || !eat("- ") || !eat(`"properties":`) || !eat("[") {
			return bad(`\n - "properties": [`)
		}
		var props []string
		for {
			if eat("]") {
				break
			}
			v, ok := quoted()
			if !ok {
				return bad("a quoted property name or ]")
			}
			props = append(props, v)
			if !eat(",") && !strings.HasPrefix(strings.TrimLeft(s, " "), "]") {
				return bad(", or ]")
			}
		}
		if strategy == "merge" {
			p[ctrl] = append(p[ctrl], props...)
		} else {
			p[ctrl] = props
		}
		if !eat("\n") && strings.TrimSpace(s) != "" {
			return bad(`\n`)
		}
	}
	return nil
}

// ParsePropsFile is ParseProps of the contents of file
// (--cgroup-props-file).
func (p Props) ParsePropsFile(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--cgroup-props-file: %w", err)
	}
	return p.ParseProps(string(b))
}
