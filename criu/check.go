package main

import (
	"context"
	"fmt"

	"github.com/criugo/criu/criu/kerndat"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "check",
		usage:   "[--all]",
		summary: "probe the kernel features dump and restore rely on",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			all := fs.Bool("all", false, "accepted for CRIU compatibility: every probe always runs")
			fs.Bool("no-default-config", false, "accepted for CRIU compatibility (no config files are read)")
			return func(ctx context.Context, e *env, args []string) error {
				_ = *all
				if len(args) > 0 {
					return usagef("check takes no arguments, got %q", args)
				}
				return runCheck(e)
			}
		},
	})
}

func runCheck(e *env) error {
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
	fmt.Fprintln(e.Stdout, "Looks good.")
	return nil
}
