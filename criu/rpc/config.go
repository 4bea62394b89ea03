package rpc

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/criugo/criu/criu/config"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/files"
	pb "github.com/criugo/criu/proto/rpc"
)

// CRIU's configuration files in RPC mode (criu.txt, "Configuration
// files in RPC mode"), in this order, each later one winning:
//
//	the default files (/etc/criu/default.conf, $HOME/.criu/default.conf,
//	  $CRIU_CONFIG_FILE: Config.ConfigFiles), read by criu swrk
//	the request's own options: what the client sets explicitly wins over
//	  the default files (a field it leaves unset takes their value)
//	the request's config_file (runc names /etc/criu/runc.conf): it wins
//	  over everything, the images dir, work dir and log file included
//
// A file's option is applied as the request's field of the same
// meaning; an option with no such field is either one of the settings
// below (remote images) or refused by name, file and line, never
// ignored. A missing file is nothing, as for CRIU.

// settings are what configuration files say that criu_opts has no
// field for, or that they say differently (paths instead of fds).
type settings struct {
	imagesDir, workDir string // images-dir, work-dir: paths
	logFile            string // log-file: a path, relative to the work dir
	remote             bool   // remote: images through the local image daemon
	remoteSocket       string // remote-socket PATH
	snapshotID         string // snapshot-id ID
	// byFile, byDefault: the settings (by option name) the request's
	// config_file gives, and those only the default files give. The
	// request's own images dir, work dir and log file come between the
	// two (resolve).
	byFile, byDefault map[string]bool
}

// fileOpts is one configuration file, read as request options.
type fileOpts struct {
	opts *pb.CriuOpts
	settings
	set map[string]bool // the settings the file gives
}

// applyConfig is o with the default files under it and the request's
// config_file over it, and the settings they give.
func applyConfig(o *pb.CriuOpts, defaults []string) (*pb.CriuOpts, settings, error) {
	merged := &pb.CriuOpts{}
	st := settings{byFile: map[string]bool{}, byDefault: map[string]bool{}}
	for _, path := range defaults {
		f, err := readConfig(path)
		if err != nil {
			return nil, st, err
		}
		if f != nil {
			proto.Merge(merged, f.opts)
			f.settings.copyTo(&st, f.set, st.byDefault)
		}
	}
	proto.Merge(merged, o)
	if path := o.GetConfigFile(); path != "" {
		f, err := readConfig(path)
		if err != nil {
			return nil, st, err
		}
		if f != nil {
			proto.Merge(merged, f.opts)
			f.settings.copyTo(&st, f.set, st.byFile)
			for k := range f.set {
				delete(st.byDefault, k)
			}
		}
	}
	return merged, st, nil
}

// copyTo copies the settings set names onto st, noting each in mark.
func (s *settings) copyTo(st *settings, set, mark map[string]bool) {
	for k := range set {
		mark[k] = true
		switch k {
		case "images-dir":
			st.imagesDir = s.imagesDir
		case "work-dir":
			st.workDir = s.workDir
		case "log-file":
			st.logFile = s.logFile
		case "remote":
			st.remote = s.remote
		case "remote-socket":
			st.remoteSocket = s.remoteSocket
		case "snapshot-id":
			st.snapshotID = s.snapshotID
		}
	}
}

// readConfig reads a configuration file as request options; nil for a
// file that does not exist.
func readConfig(path string) (*fileOpts, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	lines, err := config.Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	f := &fileOpts{opts: &pb.CriuOpts{}, set: map[string]bool{}}
	for _, l := range lines {
		if err := f.option(l); err != nil {
			return nil, fmt.Errorf("configuration file %s:%d: %w", path, l.N, err)
		}
	}
	return f, nil
}

// boolOpts are CRIU's boolean options with a criu_opts field; each also
// as no-NAME, which sets it false (CRIU's BOOL_OPT).
var boolOpts = map[string]func(o *pb.CriuOpts, v bool){
	"leave-running":           func(o *pb.CriuOpts, v bool) { o.LeaveRunning = &v },
	"tcp-established":         func(o *pb.CriuOpts, v bool) { o.TcpEstablished = &v },
	"tcp-close":               func(o *pb.CriuOpts, v bool) { o.TcpClose = &v },
	"skip-in-flight":          func(o *pb.CriuOpts, v bool) { o.TcpSkipInFlight = &v },
	"evasive-devices":         func(o *pb.CriuOpts, v bool) { o.EvasiveDevices = &v },
	"shell-job":               func(o *pb.CriuOpts, v bool) { o.ShellJob = &v },
	"file-locks":              func(o *pb.CriuOpts, v bool) { o.FileLocks = &v },
	"track-mem":               func(o *pb.CriuOpts, v bool) { o.TrackMem = &v },
	"auto-dedup":              func(o *pb.CriuOpts, v bool) { o.AutoDedup = &v },
	"link-remap":              func(o *pb.CriuOpts, v bool) { o.LinkRemap = &v },
	"force-irmap":             func(o *pb.CriuOpts, v bool) { o.ForceIrmap = &v },
	"restore-sibling":         func(o *pb.CriuOpts, v bool) { o.RstSibling = &v },
	"enable-external-sharing": func(o *pb.CriuOpts, v bool) { o.ExtSharing = &v },
	"enable-external-masters": func(o *pb.CriuOpts, v bool) { o.ExtMasters = &v },
	"weak-sysctls":            func(o *pb.CriuOpts, v bool) { o.WeakSysctls = &v },
	"lazy-pages":              func(o *pb.CriuOpts, v bool) { o.LazyPages = &v },
	"orphan-pts-master":       func(o *pb.CriuOpts, v bool) { o.OrphanPtsMaster = &v },
	"tls":                     func(o *pb.CriuOpts, v bool) { o.Tls = &v },
	"tls-no-cn-verify":        func(o *pb.CriuOpts, v bool) { o.TlsNoCnVerify = &v },
	"mntns-compat-mode":       func(o *pb.CriuOpts, v bool) { o.MntnsCompatMode = &v },
	"skip-file-rwx-check":     func(o *pb.CriuOpts, v bool) { o.SkipFileRwxCheck = &v },
	"unprivileged":            func(o *pb.CriuOpts, v bool) { o.Unprivileged = &v },
	"leave-stopped":           func(o *pb.CriuOpts, v bool) { o.LeaveStopped = &v },
	"display-stats":           func(o *pb.CriuOpts, v bool) { o.DisplayStats = &v },
}

// valueOpts are CRIU's options with a value and a criu_opts field (or a
// setting); short names as CRIU's.
var valueOpts = map[string]func(f *fileOpts, v string) error{
	"verbosity": func(f *fileOpts, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("verbosity %q: want a level 0-4", v)
		}
		f.opts.LogLevel = proto.Int32(int32(n))
		return nil
	},
	"log-file":        func(f *fileOpts, v string) error { f.logFile = v; return nil },
	"images-dir":      func(f *fileOpts, v string) error { f.imagesDir = v; return nil },
	"work-dir":        func(f *fileOpts, v string) error { f.workDir = v; return nil },
	"root":            func(f *fileOpts, v string) error { f.opts.Root = &v; return nil },
	"prev-images-dir": func(f *fileOpts, v string) error { f.opts.ParentImg = &v; return nil },
	"external":        func(f *fileOpts, v string) error { f.opts.External = append(f.opts.External, v); return nil },
	"ext-mount-map": func(f *fileOpts, v string) error {
		if v == "auto" {
			f.opts.AutoExtMnt = proto.Bool(true)
			return nil
		}
		k, val, ok := strings.Cut(v, ":")
		if !ok || k == "" || val == "" {
			return fmt.Errorf("ext-mount-map %q: want KEY:VALUE", v)
		}
		f.opts.ExtMnt = append(f.opts.ExtMnt, &pb.ExtMountMap{Key: &k, Val: &val})
		return nil
	},
	"enable-fs": func(f *fileOpts, v string) error { f.opts.EnableFs = append(f.opts.EnableFs, v); return nil },
	"skip-mnt":  func(f *fileOpts, v string) error { f.opts.SkipMnt = append(f.opts.SkipMnt, v); return nil },
	"cgroup-root": func(f *fileOpts, v string) error {
		cr := &pb.CgroupRoot{}
		if ctrl, path, ok := strings.Cut(v, ":"); ok {
			cr.Ctrl, cr.Path = &ctrl, &path
		} else {
			cr.Path = &v
		}
		f.opts.CgRoot = append(f.opts.CgRoot, cr)
		return nil
	},
	"manage-cgroups": func(f *fileOpts, v string) error {
		m, ok := map[string]pb.CriuCgMode{"ignore": pb.CriuCgMode_IGNORE, "none": pb.CriuCgMode_CG_NONE,
			"props": pb.CriuCgMode_PROPS, "soft": pb.CriuCgMode_SOFT, "full": pb.CriuCgMode_FULL,
			"strict": pb.CriuCgMode_STRICT}[v]
		if !ok {
			return fmt.Errorf("manage-cgroups %q: want ignore, none, props, soft, full or strict", v)
		}
		f.opts.ManageCgroups, f.opts.ManageCgroupsMode = proto.Bool(true), m.Enum()
		return nil
	},
	"cgroup-props":      func(f *fileOpts, v string) error { f.opts.CgroupProps = &v; return nil },
	"cgroup-props-file": func(f *fileOpts, v string) error { f.opts.CgroupPropsFile = &v; return nil },
	"cgroup-dump-controller": func(f *fileOpts, v string) error {
		f.opts.CgroupDumpController = append(f.opts.CgroupDumpController, v)
		return nil
	},
	"cgroup-yard":   func(f *fileOpts, v string) error { f.opts.CgroupYard = &v; return nil },
	"freeze-cgroup": func(f *fileOpts, v string) error { f.opts.FreezeCgroup = &v; return nil },
	"network-lock": func(f *fileOpts, v string) error {
		m, ok := map[string]pb.CriuNetworkLockMethod{"iptables": pb.CriuNetworkLockMethod_IPTABLES,
			"nftables": pb.CriuNetworkLockMethod_NFTABLES, "skip": pb.CriuNetworkLockMethod_SKIP}[v]
		if !ok {
			return fmt.Errorf("network-lock %q: want iptables, nftables or skip", v)
		}
		f.opts.NetworkLock = m.Enum()
		return nil
	},
	"inherit-fd": func(f *fileOpts, v string) error {
		fd, key, err := files.ParseInheritFd(v)
		if err != nil {
			return err
		}
		f.opts.InheritFd = append(f.opts.InheritFd, &pb.InheritFd{Key: &key, Fd: proto.Int32(int32(fd))})
		return nil
	},
	"empty-ns": func(f *fileOpts, v string) error {
		if v != "net" {
			return fmt.Errorf("empty-ns %q: only net", v)
		}
		f.opts.EmptyNs = proto.Uint32(f.opts.GetEmptyNs() | 1<<30) // CLONE_NEWNET
		return nil
	},
	"timeout": func(f *fileOpts, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("timeout %q: want seconds", v)
		}
		f.opts.Timeout = proto.Uint32(uint32(n))
		return nil
	},
	"ghost-limit": func(f *fileOpts, v string) error {
		n, err := config.ParseSize(v)
		if err != nil || n > math.MaxUint32 {
			return fmt.Errorf("ghost-limit %q: want a size (K, M, G) under 4G", v)
		}
		f.opts.GhostLimit = proto.Uint32(uint32(n))
		return nil
	},
	"lsm-profile":       func(f *fileOpts, v string) error { f.opts.LsmProfile = &v; return nil },
	"lsm-mount-context": func(f *fileOpts, v string) error { f.opts.LsmMountContext = &v; return nil },
	"irmap-scan-path": func(f *fileOpts, v string) error {
		f.opts.IrmapScanPaths = append(f.opts.IrmapScanPaths, v)
		return nil
	},
	"tls-cacert": func(f *fileOpts, v string) error { f.opts.TlsCacert = &v; return nil },
	"tls-cacrl":  func(f *fileOpts, v string) error { f.opts.TlsCacrl = &v; return nil },
	"tls-cert":   func(f *fileOpts, v string) error { f.opts.TlsCert = &v; return nil },
	"tls-key":    func(f *fileOpts, v string) error { f.opts.TlsKey = &v; return nil },
	"pre-dump-mode": func(f *fileOpts, v string) error {
		m, ok := map[string]pb.CriuPreDumpMode{"splice": pb.CriuPreDumpMode_SPLICE, "read": pb.CriuPreDumpMode_VM_READ}[v]
		if !ok {
			return fmt.Errorf("pre-dump-mode %q: want splice or read", v)
		}
		f.opts.PreDumpMode = m.Enum()
		return nil
	},
	"remote-socket": func(f *fileOpts, v string) error { f.remoteSocket = v; return nil },
	"snapshot-id":   func(f *fileOpts, v string) error { f.snapshotID = v; return nil },
}

// shortOpts are CRIU's one-letter spellings of the options above.
var shortOpts = map[string]string{"v": "verbosity", "o": "log-file", "D": "images-dir", "W": "work-dir",
	"r": "root", "M": "ext-mount-map", "j": "shell-job", "R": "leave-running", "l": "file-locks"}

// option applies one line of a configuration file.
func (f *fileOpts) option(l config.Line) error {
	name, value, hasValue := strings.Cut(strings.TrimPrefix(l.Words[0], "--"), "=")
	if long, ok := shortOpts[name]; ok {
		name = long
	}
	if len(l.Words) > 2 || len(l.Words) == 2 && hasValue {
		return fmt.Errorf("option %s: one value at most, got %q", name, l.Words[1:])
	}
	if len(l.Words) == 2 {
		value, hasValue = l.Words[1], true
	}
	switch {
	case name == "remote":
		if hasValue {
			return fmt.Errorf("option remote takes no value")
		}
		f.remote = true
		f.set[name] = true
		return nil
	case name == "ext-unix-sk":
		// Optional value: the sockets, by inode, connected outside.
		f.opts.ExtUnixSk = proto.Bool(true)
		if hasValue {
			for _, s := range strings.Split(value, ",") {
				ino, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return fmt.Errorf("ext-unix-sk %q: want inode numbers", value)
				}
				f.opts.UnixSkIno = append(f.opts.UnixSkIno, &pb.UnixSk{Inode: proto.Uint32(uint32(ino))})
			}
		}
		return nil
	case name == "verbosity" && !hasValue:
		f.opts.LogLevel = proto.Int32(4)
		return nil
	case name == "manage-cgroups" && !hasValue:
		f.opts.ManageCgroups = proto.Bool(true)
		return nil
	}
	if set, ok := boolOpts[name]; ok {
		if hasValue {
			return fmt.Errorf("option %s takes no value", name)
		}
		set(f.opts, true)
		return nil
	}
	if n, ok := strings.CutPrefix(name, "no-"); ok {
		if set, ok := boolOpts[n]; ok && !hasValue {
			set(f.opts, false)
			return nil
		}
	}
	if set, ok := valueOpts[name]; ok {
		if !hasValue {
			return fmt.Errorf("option %s needs a value", name)
		}
		f.set[name] = true
		return set(f, value)
	}
	return fmt.Errorf("%w: option %s is not applied to criu swrk's requests", errdefs.ErrUnsupported, name)
}
