package main

import (
	"github.com/spf13/pflag"
)

// CRIU options that tools and scripts pass, which this criu does not
// implement (yet). Each is either accepted (where ignoring it cannot change
// the result: it tunes something we do not have) or refused with a clear
// message when given (where ignoring it would silently change what is
// checkpointed or restored). Options a command defines itself win.
type compatOpt struct {
	name, short string
	arg         string // "" for a boolean switch, else the value's name
	refuse      bool
	why         string // for --help; for refused options, the reason
}

var compatDumpRestore = []compatOpt{
	{"work-dir", "W", "DIR", false, "accepted; logs go where -o names them"},
	{"log-pid", "", "", false, "accepted; every log line names its pid"},
	{"display-stats", "", "", false, "accepted; the stats are in stats-dump.img / stats-restore.img (criu show)"},
	{"unprivileged", "", "", false, "accepted; no effect"},
	{"cpu-cap", "", "CAP", false, "accepted; CPU features are not checked at restore"},
	{"link-remap", "", "", false, "accepted; files deleted while open are always kept (ghost files)"},
	{"ghost-limit", "", "SIZE", false, "accepted; no limit on ghost files"},
	{"auto-dedup", "", "", false, "accepted; no effect"},
	{"network-lock", "", "METHOD", false, "accepted; the network is not locked (established TCP is refused anyway)"},
	{"manage-cgroups", "", "MODE", false, "accepted; cgroups are not checkpointed (tasks stay in the restorer's)"},
	// dump and restore define --file-locks themselves; pre-dump saves
	// memory only.
	{"file-locks", "", "", false, "accepted; file locks are saved by dump"},
	{"config", "", "FILE", true, "configuration files are not read"},
	{"tcp-established", "", "", true, "established TCP connections are not checkpointed yet"},
	{"tcp-close", "", "", true, "established TCP connections are not checkpointed yet"},
	// dump defines --ext-unix-sk itself; restore reconnects an external
	// socket the images hold without it (as CRIU 4.2 does), pre-dump
	// saves memory only.
	{"ext-unix-sk", "", "", false, "accepted; a socket connected to an external UNIX socket is connected to its name again (dump needs --ext-unix-sk to save it)"},
	{"external", "", "RES", true, "external resources are not taken by pre-dump (dump and restore take veth[IFNAME]:OUTNAME)"},
	{"inherit-fd", "", "fd[N]:RES", true, "inherited fds are not supported yet"},
	{"root", "r", "DIR", true, "restoring into another root is not supported"},
	{"lazy-pages", "", "", true, "lazy pages (userfaultfd) are not supported"},
	{"page-server", "", "", true, "the page server is not supported; use --remote"},
	{"leave-stopped", "s", "", true, "leaving tasks stopped is not supported"},
	{"restore-sibling", "S", "", true, "restoring as a sibling is not supported"},
	{"evasive-devices", "", "", true, "evasive devices are not supported"},
	{"action-script", "", "SCRIPT", true, "action scripts are not run"},
	{"exec-cmd", "", "", true, "--exec-cmd is not supported"},
	{"freeze-cgroup", "", "PATH", true, "freezing through a cgroup is not supported (tasks are frozen with ptrace)"},
	{"ext-mount-map", "M", "KEY:VAL", true, "mount namespaces are not checkpointed yet"},
	{"skip-mnt", "", "PATH", true, "mount namespaces are not checkpointed yet"},
	{"enable-fs", "", "FS", true, "mount namespaces are not checkpointed yet"},
	{"stream", "", "", true, "the image streamer is not supported; use --remote"},
	{"lsm-profile", "", "PROFILE", true, "LSM profiles are not restored"},
}

// compatCommands are the commands that take CRIU's dump/restore options.
var compatCommands = map[string]bool{"dump": true, "pre-dump": true, "restore": true}

// addCompatFlags adds the options of compatDumpRestore that fs does not
// define yet, and returns a check that fails for a refused one given.
func addCompatFlags(fs *pflag.FlagSet) func() error {
	var added []compatOpt
	for _, o := range compatDumpRestore {
		if fs.Lookup(o.name) != nil || o.short != "" && fs.ShorthandLookup(o.short) != nil {
			continue
		}
		if o.arg == "" {
			fs.BoolP(o.name, o.short, false, o.why)
		} else {
			fs.StringP(o.name, o.short, "", o.why)
		}
		added = append(added, o)
	}
	return func() error {
		for _, o := range added {
			if o.refuse && fs.Changed(o.name) {
				return usagef("--%s: %s", o.name, o.why)
			}
		}
		return nil
	}
}
