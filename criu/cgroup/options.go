package cgroup

import (
	"errors"
	"fmt"
	"strings"

	"github.com/criugo/criu/criu/errdefs"
)

// ErrBadImage is returned for a cgroup image that names a set, a
// hierarchy or a path it does not hold, or a path leaving its hierarchy.
var ErrBadImage = errors.New("bad cgroup image")

// ErrUnsupported is errdefs.ErrUnsupported: what the package refuses.
var ErrUnsupported = errdefs.ErrUnsupported

// Mode is what restore does with the cgroups (--manage-cgroups); the
// package doc lists CRIU's meanings.
type Mode int

const (
	Soft Mode = iota // the default
	Ignore
	None
	PropsOnly
	Full
	Strict
)

var modeNames = []string{Soft: "soft", Ignore: "ignore", None: "none", PropsOnly: "props", Full: "full", Strict: "strict"}

func (m Mode) String() string { return modeNames[m] }

// ParseMode parses a --manage-cgroups value ("" is soft, as CRIU's
// option given without one).
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return Soft, nil
	}
	for m, n := range modeNames {
		if n == s {
			return Mode(m), nil
		}
	}
	return Soft, fmt.Errorf("--manage-cgroups %q: want none, props, soft, full, strict or ignore", s)
}

// Options are the cgroup options of dump and restore.
type Options struct {
	Mode Mode
	// Roots: --cgroup-root [CTRL:]PATH, by controller ("" for every
	// hierarchy not named). At dump, the top directory saved of the
	// hierarchy (an ancestor of its tasks' cgroups); at restore, where
	// the saved top directory goes.
	Roots map[string]string
	// Props are the properties saved per controller (dump); nil is
	// DefaultProps.
	Props Props
	// DumpControllers, when set, are the only controllers dumped
	// (--cgroup-dump-controller); the others are as if absent.
	DumpControllers []string
	// Yard is a directory holding one mount per hierarchy
	// (--cgroup-yard); "" uses criu's own cgroup mounts.
	Yard string
}

// ParseRoot parses a --cgroup-root argument into roots.
func ParseRoot(roots map[string]string, arg string) error {
	ctrl, path, ok := strings.Cut(arg, ":")
	if !ok {
		ctrl, path = "", arg
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("--cgroup-root %q: want [CONTROLLER:]/PATH", arg)
	}
	roots[ctrl] = cleanPath(path)
	return nil
}

// root returns the --cgroup-root of a hierarchy, "" for none.
func (o *Options) root(cnames []string) string {
	for _, c := range cnames {
		if r, ok := o.Roots[c]; ok && c != "" {
			return r
		}
	}
	if r, ok := o.Roots[strings.Join(cnames, ",")]; ok {
		return r
	}
	return o.Roots[""]
}

// skip reports whether a hierarchy is left out (DumpControllers).
func (o *Options) skip(cnames []string) bool {
	if len(o.DumpControllers) == 0 {
		return false
	}
	for _, c := range cnames {
		for _, d := range o.DumpControllers {
			if c == d || strings.TrimPrefix(c, "name=") == d {
				return false
			}
		}
	}
	return true
}
