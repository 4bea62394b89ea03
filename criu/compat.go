package main

import (
	"slices"

	"github.com/spf13/pflag"
)

// CRIU options that tools and scripts pass, which this criu does not
// implement (yet). Each is either accepted (where ignoring it cannot change
// the result: it tunes something we do not have) or refused with a clear
// message when given (where ignoring it would silently change what is
// checkpointed or restored). Options a command defines itself win.
//
// The audit, for the accepted ones: work-dir and log-pid place and shape
// the log; display-stats prints figures we keep in stats-dump;
// unprivileged accepts limitations we do not check for; link-remap is
// dump's (restore opens what it linked), and so is ghost-limit
// (restore makes every ghost the images hold); auto-dedup
// saves disk space only; pre-dump's network-lock locks nothing, since the
// tree runs on after a pre-dump (dump and restore define it); pre-dump's file-locks has no
// locks to save; dump and restore define the cgroup options, which
// pre-dump (memory only) accepts, and so are pre-dump's --external,
// --ext-mount-map and --enable-fs (LXC passes its dump's to its
// pre-dump); force-irmap asks for the paths of watched inodes, which
// fsnotify always saves. cpu-cap is accepted with the one
// value that asks for what we do (none: no CPU check) and refused with
// any other.
type compatOpt struct {
	name, short string
	arg         string // "" for a boolean switch, else the value's name
	refuse      bool
	why         string // for --help; for refused options, the reason
}

// compatValues are, for refused options that take a value, the values
// accepted all the same (ok: they ask for what this criu does anyway),
// and the value of the option given without one (noOpt, for CRIU's
// options with an optional argument).
var compatValues = map[string]struct {
	ok    []string
	noOpt string
}{
	"cpu-cap":        {[]string{"none"}, "all"},
	"manage-cgroups": {[]string{"none", "props", "soft", "full", "strict", "ignore"}, "soft"},
}

var compatDumpRestore = []compatOpt{
	{"work-dir", "W", "DIR", false, "relative -o and --pidfile are taken in DIR (default: the images dir, as CRIU)"},
	{"log-pid", "", "", false, "accepted; every log line names its pid"},
	{"display-stats", "", "", false, "accepted; the stats are in stats-dump / stats-restore (criu show)"},
	{"unprivileged", "", "", false, "accepted; no effect"},
	{"cpu-cap", "", "CAP", true, "CPU features are not saved at dump nor checked at restore (only --cpu-cap=none is accepted): a tree restored on a CPU without an instruction set it used would die of SIGILL later"},
	{"link-remap", "", "", false, "accepted; it applies to dump"},
	{"ghost-limit", "", "SIZE", false, "accepted; it applies to dump"},
	{"auto-dedup", "", "", false, "accepted; no effect"},
	{"network-lock", "", "METHOD", false, "accepted; pre-dump does not lock the network (dump and restore define --network-lock)"},
	{"manage-cgroups", "", "MODE", true, "want none, props, soft, full, strict or ignore (it applies to dump and restore)"},
	{"cgroup-root", "", "[CTRL:]PATH", false, "accepted; it applies to dump and restore"},
	{"cgroup-props", "", "SPEC", false, "accepted; it applies to dump"},
	{"cgroup-props-file", "", "FILE", false, "accepted; it applies to dump"},
	{"cgroup-dump-controller", "", "NAME", false, "accepted; it applies to dump"},
	{"cgroup-yard", "", "DIR", false, "accepted; it applies to dump and restore"},
	// dump and restore define --file-locks themselves; pre-dump saves
	// memory only.
	{"file-locks", "", "", false, "accepted; file locks are saved by dump"},
	// restore defines --inherit-fd itself.
	{"inherit-fd", "", "fd[N]:KEY", false, "accepted; it applies to restore"},
	// dump and restore define the TCP options themselves (tcpflags.go).
	{"tcp-established", "", "", false, "accepted; it applies to dump and restore"},
	{"tcp-close", "", "", false, "accepted; it applies to dump and restore"},
	{"skip-in-flight", "", "", false, "accepted; it applies to dump"},
	{"tcp-skip-in-flight", "", "", false, "accepted; it applies to dump"},
	// dump defines --ext-unix-sk itself; restore reconnects an external
	// socket the images hold without it (as CRIU 4.2 does), pre-dump
	// saves memory only.
	{"ext-unix-sk", "", "", false, "accepted; a socket connected to an external UNIX socket is connected to its name again (dump needs --ext-unix-sk to save it)"},
	// pre-dump saves memory only: what dump and restore define about
	// external resources and mounts changes nothing it saves.
	{"external", "", "RES", false, "accepted; pre-dump saves memory only (dump takes the external resources)"},
	// CRIU 4.2 accepts --root at dump and pre-dump and uses it for
	// nothing here (an AUFS path fix-up only): zdtm.py passes the same
	// --root to dump as to restore.
	{"root", "r", "DIR", false, "accepted; dump and pre-dump use no root (restore takes --root DIR)"},
	{"lazy-pages", "", "", true, "lazy pages (userfaultfd) are not supported"},
	{"page-server", "", "", true, "the page server is not supported; use --remote"},
	{"leave-stopped", "s", "", true, "leaving tasks stopped is not supported"},
	// restore defines --restore-sibling itself.
	{"restore-sibling", "S", "", false, "accepted; it applies to restore"},
	{"evasive-devices", "", "", true, "evasive devices are not supported"},
	{"action-script", "", "SCRIPT", true, "action scripts are not run"},
	{"exec-cmd", "", "", true, "--exec-cmd is not supported"},
	{"freeze-cgroup", "", "PATH", false, "accepted; it applies to dump and pre-dump"},
	{"ext-mount-map", "M", "KEY:VAL", false, "accepted; pre-dump saves memory only (dump saves the mounts)"},
	{"skip-mnt", "", "PATH", true, "skipping mounts of the mount namespace is not supported"},
	{"enable-fs", "", "FS", false, "accepted; pre-dump saves memory only (dump saves the mounts)"},
	// dump defines these two (mntflags.go).
	{"enable-external-sharing", "", "", false, "accepted; it applies to dump (--ext-mount-map auto)"},
	{"enable-external-masters", "", "", false, "accepted; it applies to dump (--ext-mount-map auto)"},
	{"force-irmap", "", "", false, "accepted; inotify and fanotify watches are always saved with the path their file handle opens (CRIU's irmap), besides the handle"},
	// What zdtm's tests pass in their .desc: each chooses how CRIU does
	// a thing, not what it saves or makes.
	{"ghost-fiemap", "", "", false, "accepted; a ghost file's data and holes are saved with SEEK_DATA/SEEK_HOLE"},
	{"no-ghost-fiemap", "", "", false, "accepted; a ghost file's data and holes are saved with SEEK_DATA/SEEK_HOLE"},
	{"irmap-scan-path", "", "PATH", false, "accepted; inotify and fanotify watches are saved with the path their file handle opens"},
	{"mntns-compat-mode", "", "", false, "accepted; there is one way of making mount namespaces (CRIU's older engine is not chosen)"},
	{"no-mntns-compat-mode", "", "", false, "accepted; there is one way of making mount namespaces"},
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
			if v := compatValues[o.name].noOpt; v != "" {
				fs.Lookup(o.name).NoOptDefVal = v
			}
		}
		added = append(added, o)
	}
	return func() error {
		for _, o := range added {
			if !o.refuse || !fs.Changed(o.name) {
				continue
			}
			if o.arg != "" && slices.Contains(compatValues[o.name].ok, fs.Lookup(o.name).Value.String()) {
				continue
			}
			if o.arg != "" {
				return usagef("--%s=%s: %s", o.name, fs.Lookup(o.name).Value.String(), o.why)
			}
			return usagef("--%s: %s", o.name, o.why)
		}
		return nil
	}
}
