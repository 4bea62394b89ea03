package main

import (
	"context"
	"os"

	"github.com/spf13/pflag"

	"github.com/criugo/criu/criu/cmdstore"
	"github.com/criugo/criu/criu/config"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/netlock"
)

func init() {
	register(&command{
		name:    "dump",
		usage:   "-t PID -D DIR [options]",
		summary: "checkpoint a running process into images",
		setup: func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error {
			// While the options are read and the images opened (dump.Warm).
			go dump.Warm()
			var (
				pid              int
				leave, shell     bool
				pidfile, preDump string
				timeout          int
			)
			fs.IntVarP(&pid, "tree", "t", 0, "`PID` of the task to dump")
			so := addStoreFlags(fs, true)
			fs.BoolVarP(&leave, "leave-running", "R", false, "let the task run on after the dump")
			fs.BoolVarP(&shell, "shell-job", "j", false, "allow a shell job: stdio on the shell's terminal or pipes, the shell's session")
			fs.StringVar(&pidfile, "pidfile", "", "accepted for compatibility (unused by dump)")
			fs.IntVar(&timeout, "timeout", 0, "accepted; freezing has no time limit (SIGINT or SIGTERM stops the dump, which lets the tree go)")
			fs.StringVar(&preDump, "pre-dump-mode", "", "accepted; used by pre-dump only")
			prev := fs.String("prev-images-dir", "", "images `DIR` of the last pre-dump, relative to -D: pages unchanged since are left there (PE_PARENT)")
			track := fs.Bool("track-mem", false, "use the memory tracking a --track-mem pre-dump started (and with -R, go on tracking)")
			netLock := fs.String("network-lock", "nftables", "keep the tree's TCP connections silent from the freeze to the restore with `METHOD`: nftables (iptables when there is no nft), iptables or skip")
			fileLocks := fs.Bool("file-locks", false, "save the flock and POSIX locks the tasks hold (without it, a held lock fails the dump)")
			linkRemap := fs.Bool("link-remap", false, "link a file deleted while open that has a link elsewhere back as link_remap.N in its directory (kept until restore removes it; without it such a file fails the dump)")
			ghostLimit := fs.String("ghost-limit", "1M", "keep a file deleted while open only up to `SIZE` of data (bytes, or with K, M, G; its holes do not count): one with more fails the dump, as CRIU")
			external := addDumpExternalFlag(fs)
			mounts := addDumpMountFlags(fs)
			extUnix := addExtUnixFlag(fs)
			tcp := addTCPFlags(fs)
			cgroups := addCgroupFlags(fs, true)
			freezeCg := fs.String("freeze-cgroup", "", "freeze the cgroup `PATH` (v1 freezer or v2) while the tree is seized, so that nothing in it forks meanwhile")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if pid <= 0 {
					return usagef("-t PID is required")
				}
				gl, err := config.ParseSize(*ghostLimit)
				if err != nil {
					return usagef("--ghost-limit: %v", err)
				}
				nl, err := netlock.ParseMethod(*netLock)
				if err != nil {
					return usagef("--network-lock: %v", err)
				}
				_, ttys, nets, err := external() // a veth needs no name at dump
				if err != nil {
					return err
				}
				mnt, err := mounts()
				if err != nil {
					return err
				}
				extUnixAll, extUnixInodes, err := extUnix()
				if err != nil {
					return err
				}
				cg, err := cgroups()
				if err != nil {
					return err
				}
				store, err := so.open(ctx, e, true)
				if err != nil {
					return err
				}
				defer store.Close()
				store, is := cmdstore.Wrap(ctx, store)
				defer startCPUProfile(e.Log, "dump")()
				st, err := dump.Dump(ctx, store, dump.Options{Pid: pid, LeaveRunning: leave, ShellJob: shell, PrevImages: *prev, TrackMem: *track, FileLocks: *fileLocks, LinkRemap: *linkRemap, GhostLimit: &gl, Mounts: mnt, ExternalTTY: ttys, ExternalNetns: nets, ExtUnixSk: extUnixAll, ExtUnixInodes: extUnixInodes, TCPEstablished: tcp.established, TCPClose: tcp.close, SkipInFlight: tcp.skipInFlight, IPTool: os.Getenv("CR_IP_TOOL"), NetworkLock: nl, Cgroup: cg, FreezeCgroup: *freezeCg, Log: e.Log, StatsAfterFinish: !so.remote})
				if err != nil {
					cmdstore.CleanFailedDump(e.Log, so.localDir(), is)
					return err
				}
				e.Log.Info().Dur("frozen", st.Frozen).Uint64("pages", st.PagesWritten).Uint64("pages_skipped_parent", st.PagesSkippedParent).Msg("dumped")
				return nil
			}
		},
	})
}
