package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/cmdstore"
	"github.com/criugo/criu/criu/dump"
)

func init() {
	register(&command{
		name:    "pre-dump",
		usage:   "-t PID -D DIR [--prev-images-dir P] [options]",
		summary: "save the memory of a running process tree, to shorten a later dump's freeze",
		setup: func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			// While the options are read and the images opened (dump.Warm).
			go dump.Warm()
			var (
				pid          int
				leave, shell bool
				prev, mode   string
				track        bool
				timeout      int
				pidfile      string
			)
			fs.IntVarP(&pid, "tree", "t", 0, "`PID` of the task tree to pre-dump")
			so := addStoreFlags(fs, true)
			fs.StringVar(&prev, "prev-images-dir", "", "images `DIR` of the previous pre-dump, relative to -D: pages unchanged since are left there")
			freezeCg := fs.String("freeze-cgroup", "", "freeze the cgroup `PATH` (v1 freezer or v2) while the tree is seized")
			// CRIU's pre-dump always tracks (its --track-mem is for
			// dump): LXC's lxc-checkpoint -p does not pass it.
			fs.BoolVar(&track, "track-mem", true, "accepted: a pre-dump always tracks memory writes (userfaultfd write-protect), as CRIU's, so that the next dump (--track-mem) takes only changed pages")
			fs.BoolVarP(&leave, "leave-running", "R", true, "accepted; a pre-dump always leaves the tree running")
			fs.BoolVarP(&shell, "shell-job", "j", false, "accepted (pre-dump saves memory only)")
			fs.StringVar(&mode, "pre-dump-mode", "read", "accepted: `splice` or read; pages are always read with process_vm_readv while the tree runs")
			fs.StringVar(&pidfile, "pidfile", "", "accepted for compatibility (unused by pre-dump)")
			fs.IntVar(&timeout, "timeout", 0, "accepted; freezing has no time limit (SIGINT or SIGTERM stops the dump, which lets the tree go)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if pid <= 0 {
					return usagef("-t PID is required")
				}
				if mode != "read" && mode != "splice" {
					return usagef("--pre-dump-mode must be splice or read, not %q", mode)
				}
				store, err := so.open(ctx, e, true)
				if err != nil {
					return err
				}
				defer store.Close()
				store, is := cmdstore.Wrap(ctx, store)
				st, err := dump.PreDump(ctx, store, dump.Options{Pid: pid, PrevImages: prev, TrackMem: true, LeaveRunning: true, FreezeCgroup: *freezeCg, Log: e.Log})
				if err != nil {
					cmdstore.CleanFailedDump(e.Log, so.localDir(), is)
					return err
				}
				e.Log.Info().Dur("frozen", st.Frozen).Uint64("pages", st.PagesWritten).Uint64("pages_skipped_parent", st.PagesSkippedParent).Msg("pre-dumped")
				return nil
			}
		},
	})
}
