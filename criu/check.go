package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/kerndat"
)

func init() {
	register(&command{
		name:    "check",
		usage:   "[--extra] [--experimental] [--all] [--feature NAME]",
		summary: "probe the kernel features dump and restore rely on",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			all := fs.Bool("all", false, "same as --extra --experimental")
			extra := fs.Bool("extra", false, "also answer CRIU's feature names for specific cases (as CRIU's --extra)")
			exp := fs.Bool("experimental", false, "also answer CRIU's experimental feature names (autofs, compat_cr)")
			feature := fs.String("feature", "", "answer only CRIU's feature `NAME`: exit 0 when this criu handles it on this kernel; one of:\n"+featureNames())
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("check takes no arguments, got %q", args)
				}
				if fs.Changed("feature") {
					return checkFeature(e, *feature)
				}
				return runCheck(e, *extra || *all, *exp || *all)
			}
		},
	})
}

// featureNames lists CRIU's feature names for --help.
func featureNames() string {
	var b strings.Builder
	line := ""
	for i, f := range kerndat.Features {
		w := f.Name
		if i < len(kerndat.Features)-1 {
			w += ", "
		}
		if len(line)+len(w) > 56 {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = ""
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}

// checkFeature answers one CRIU feature name with CRIU's words: "NAME is
// supported" and status 0, or why not and status 1; an unknown name is
// an error too, as CRIU's "Unknown feature".
func checkFeature(e *env, name string) error {
	f, ok := kerndat.LookupFeature(name)
	if !ok {
		return fmt.Errorf("Unknown feature %s (criu check --help lists them)", name)
	}
	d, err := f.Check()
	e.Log.Debug().Str("feature", name).Err(err).Msg(d)
	if err != nil {
		return fmt.Errorf("%s isn't supported: %w", name, err)
	}
	fmt.Fprintf(e.Stdout, "%s is supported\n", name)
	return nil
}

// CRIU's verdicts (cr-check.c).
const (
	checkGood  = "Looks good."
	checkMaybe = "Looks good but some kernel features are missing\nwhich, depending on your process tree, may cause\ndump or restore failure."
)

// errMaybe is the status of a check whose extra features are not all
// there, as CRIU's (it exits 1 then).
var errMaybe = errors.New("some of the features asked for are not supported (see above)")

func runCheck(e *env, extra, exp bool) error {
	fmt.Fprintf(e.Stdout, "Kernel %s\n", kerndat.KernelRelease())
	missing := 0
	for _, r := range kerndat.RunAll() {
		status := "ok"
		switch {
		case !r.OK && r.Required:
			status = "FAIL"
			missing++
		case !r.OK:
			status = "missing"
		}
		fmt.Fprintf(e.Stdout, "  %-18s %-8s %s\n", r.Name, status, r.Detail)
		e.Log.Debug().Str("feature", r.Name).Bool("ok", r.OK).Bool("required", r.Required).Msg(r.Detail)
	}
	if missing > 0 {
		return fmt.Errorf("%d required kernel feature(s) missing: dump and restore cannot work here", missing)
	}
	unsupported := 0
	if extra || exp {
		fmt.Fprintln(e.Stdout, "CRIU features:")
		for _, f := range kerndat.Features {
			if !(extra && f.Category == kerndat.Extra || exp && f.Category == kerndat.Experimental) {
				continue
			}
			d, err := f.Check()
			status := "ok"
			if err != nil {
				status, d = "no", err.Error()
				unsupported++
			}
			fmt.Fprintf(e.Stdout, "  %-24s %-3s %s\n", f.Name, status, d)
		}
	}
	if unsupported > 0 {
		// CRIU's words, which callers look for; "no" above says which
		// are the kernel's and which this criu's.
		fmt.Fprintln(e.Stdout, checkMaybe)
		return errMaybe
	}
	fmt.Fprintln(e.Stdout, checkGood)
	return nil
}
