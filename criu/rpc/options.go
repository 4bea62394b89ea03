package rpc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/criugo/criu/criu/cgroup"
	"github.com/criugo/criu/criu/dump"
	"github.com/criugo/criu/criu/errdefs"
	"github.com/criugo/criu/criu/mntns"
	"github.com/criugo/criu/criu/netlock"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/restore"
	"github.com/criugo/criu/criu/tty"
	pb "github.com/criugo/criu/proto/rpc"
)

// defaultLogFile is CRIU's log name when a request gives none.
const defaultLogFile = "criu.log"

// request is a DUMP, PRE_DUMP or RESTORE request's options, resolved.
type request struct {
	typ       pb.CriuReqType
	imagesDir string
	// imagesName is the images dir as the client names it (a remote
	// snapshot's id derives from it); remote, remoteSocket and
	// snapshotID are the configuration files' remote, remote-socket and
	// snapshot-id (no criu_opts field has them).
	imagesName   string
	remote       bool
	remoteSocket string
	snapshotID   string
	// orphanPts: orphan_pts_master, the new master of a pty whose
	// master was outside the tree goes to the client.
	orphanPts bool
	workDir   string
	logPath   string // "" logs to stderr (log_to_stderr)
	logLevel  int
	dump      dump.Options
	restore   restore.Options
	// accepted are the options taken without effect, each with why
	// that cannot change the result (logged); refused the options not
	// implemented, which fail the request.
	accepted, refused []string
}

// resolve reads o for a request of type t from the client peer, with
// the configuration files under and over it (config.go).
func resolve(t pb.CriuReqType, o *pb.CriuOpts, peer int, cfg Config) (*request, error) {
	o, st, err := applyConfig(o, cfg.ConfigFiles)
	if err != nil {
		return nil, err
	}
	r := &request{typ: t, logLevel: int(o.GetLogLevel())}
	switch {
	case st.byFile["images-dir"]:
		r.imagesDir, r.imagesName = st.imagesDir, st.imagesDir
	case o.GetImagesDirFd() >= 0:
		if r.imagesDir, r.imagesName, err = peerDir(peer, int(o.GetImagesDirFd()), "images_dir_fd"); err != nil {
			return nil, err
		}
	case o.GetImagesDir() != "":
		r.imagesDir, r.imagesName = o.GetImagesDir(), o.GetImagesDir()
	default:
		return nil, fmt.Errorf("%w: neither images_dir_fd nor images_dir given", ErrProtocol)
	}
	r.workDir = r.imagesDir
	switch {
	case st.byFile["work-dir"]:
		r.workDir = st.workDir
	case o.WorkDirFd != nil:
		if r.workDir, _, err = peerDir(peer, int(o.GetWorkDirFd()), "work_dir_fd"); err != nil {
			return nil, err
		}
	case st.byDefault["work-dir"]:
		r.workDir = st.workDir
	}
	name := o.GetLogFile()
	if strings.Contains(name, "/") {
		return nil, fmt.Errorf("log_file %q: no subdirs are allowed (use work_dir_fd)", name)
	}
	switch {
	case st.byFile["log-file"]:
		r.logPath = inDir(r.workDir, st.logFile)
	case name != "":
		r.logPath = filepath.Join(r.workDir, name)
	case o.GetLogToStderr():
	case st.byDefault["log-file"]:
		r.logPath = inDir(r.workDir, st.logFile)
	default:
		r.logPath = filepath.Join(r.workDir, defaultLogFile)
	}
	if r.logPath == "-" {
		r.logPath = ""
	}
	r.logLevel = min(max(r.logLevel, 0), 4)
	r.remote, r.remoteSocket, r.snapshotID = st.remote, st.remoteSocket, st.snapshotID
	if !r.remote && (r.remoteSocket != "" || r.snapshotID != "") {
		r.refuse("remote-socket and snapshot-id without remote")
	}
	r.options(o, cfg)
	// A remote dump's stats-dump goes with the images, before the
	// store's Finish.
	r.dump.StatsAfterFinish = !r.remote
	return r, nil
}

// inDir is path, relative to dir unless absolute (CRIU's log-file "-"
// is stderr).
func inDir(dir, path string) string {
	if path == "-" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// peerDir is the directory the client's fd names, as CRIU reaches it
// (/proc/PEER/fd/N), by its own path when that is the same directory
// for us (relative paths such as parent_img then resolve as the client
// means them); and name, the path the client's fd names (its
// /proc/PEER/fd/N link), whether or not it leads there for us: a remote
// snapshot's id is derived from it, as from the command line's -D.
func peerDir(peer, fd int, what string) (dir, name string, err error) {
	p := fmt.Sprintf("/proc/%d/fd/%d", peer, fd)
	st, err := os.Stat(p)
	if err != nil {
		return "", "", fmt.Errorf("%s %d of the client (pid %d): %w", what, fd, peer, err)
	}
	if !st.IsDir() {
		return "", "", fmt.Errorf("%s %d of the client (pid %d): not a directory", what, fd, peer)
	}
	real, err := os.Readlink(p)
	if err != nil || !filepath.IsAbs(real) {
		return p, p, nil
	}
	if rst, err := os.Stat(real); err == nil && os.SameFile(st, rst) {
		return real, real, nil
	}
	return p, real, nil
}

// refuse records an option we do not implement.
func (r *request) refuse(format string, args ...any) {
	r.refused = append(r.refused, fmt.Sprintf(format, args...))
}

// accept records an option taken without effect, and why.
func (r *request) accept(format string, args ...any) {
	r.accepted = append(r.accepted, fmt.Sprintf(format, args...))
}

// refusal is the error of the refused options, or nil.
func (r *request) refusal() error {
	if len(r.refused) == 0 {
		return nil
	}
	return fmt.Errorf("%w: RPC options not implemented: %s", errdefs.ErrUnsupported, strings.Join(r.refused, "; "))
}

// options maps o onto the dump and restore options (CRIU's meaning of
// each, cr-service.c), or records it as accepted or refused.
func (r *request) options(o *pb.CriuOpts, cfg Config) {
	isDump := r.typ != pb.CriuReqType_RESTORE
	d := &r.dump
	rs := &r.restore
	d.IPTool, rs.IPTool = cfg.IPTool, cfg.IPTool

	// An option of a newer rpc.proto than ours: its meaning is unknown
	// here, so it cannot be honoured (CRIU would skip it silently).
	for _, n := range unknownFields(o.ProtoReflect().GetUnknown()) {
		r.refuse("unknown criu_opts field %d", n)
	}

	if isDump {
		if o.GetPid() <= 0 {
			r.refuse("pid unset: dumping the client itself is not implemented")
		}
		d.Pid = int(o.GetPid())
	}
	d.LeaveRunning = o.GetLeaveRunning() || r.typ == pb.CriuReqType_PRE_DUMP
	d.ExtUnixSk = o.GetExtUnixSk()
	for _, u := range o.GetUnixSkIno() {
		if d.ExtUnixInodes == nil {
			d.ExtUnixInodes = map[uint32]bool{}
		}
		d.ExtUnixInodes[u.GetInode()] = true
	}
	d.TCPEstablished, rs.TCPEstablished = o.GetTcpEstablished(), o.GetTcpEstablished()
	d.TCPClose, rs.TCPClose = o.GetTcpClose(), o.GetTcpClose()
	d.SkipInFlight = o.GetTcpSkipInFlight()
	d.ShellJob, rs.ShellJob = o.GetShellJob(), o.GetShellJob()
	d.FileLocks, rs.FileLocks = o.GetFileLocks(), o.GetFileLocks()
	d.PrevImages = o.GetParentImg()
	// A pre-dump always tracks memory, as CRIU's ("Enforcing memory
	// tracking for pre-dump"): runc sets track_mem only with a parent.
	d.TrackMem = o.GetTrackMem() || r.typ == pb.CriuReqType_PRE_DUMP
	if o.GetEvasiveDevices() {
		r.accept("evasive_devices: a device file whose path is gone fails the restore by name instead of being looked for elsewhere")
	}
	if o.Ps != nil {
		r.refuse("ps (page server)")
	}
	if root := o.GetRoot(); root != "" && root != "/" {
		if isDump {
			r.accept("root %q on dump: the tree's mounts and root are read from its own mount namespace, as CRIU's dump does", root)
		} else {
			rs.Mounts.Root = root
		}
	}
	if o.GetAutoDedup() {
		r.refuse("auto_dedup")
	}
	d.LinkRemap = o.GetLinkRemap()
	gl := int64(o.GetGhostLimit())
	d.GhostLimit = &gl
	for _, v := range o.GetVeths() {
		addVeth(rs, v.GetIfIn(), v.GetIfOut())
	}
	if o.CpuCap != nil && o.GetCpuCap() != 0xffffffff {
		r.refuse("cpu_cap %#x", o.GetCpuCap())
	}
	if o.GetForceIrmap() {
		r.refuse("force_irmap")
	}
	if len(o.GetExecCmd()) > 0 {
		r.refuse("exec_cmd")
	}
	r.mounts(o, isDump)
	r.cgroups(o)
	if o.GetRstSibling() {
		r.accept("rst_sibling: the restored root is a child of criu swrk, and of the client once criu swrk exits when the client is a child subreaper (runc is, unless --no-subreaper)")
	}
	for _, f := range o.GetInheritFd() {
		if rs.InheritFd == nil {
			rs.InheritFd = map[string]int{}
		}
		rs.InheritFd[f.GetKey()] = int(f.GetFd())
	}
	if len(o.GetIrmapScanPaths()) > 0 {
		r.refuse("irmap_scan_paths")
	}
	for _, e := range o.GetExternal() {
		r.external(e, isDump)
	}
	if ns := o.GetEmptyNs(); ns != 0 {
		d.EmptyNetns = ns&unix.CLONE_NEWNET != 0
		rs.EmptyNetns = d.EmptyNetns
		if rest := ns &^ unix.CLONE_NEWNET; rest != 0 {
			r.refuse("empty_ns %#x (only CLONE_NEWNET)", rest)
		}
	}
	if len(o.GetJoinNs()) > 0 {
		r.refuse("join_ns")
	}
	d.FreezeCgroup = o.GetFreezeCgroup()
	if o.GetWeakSysctls() {
		r.accept("weak_sysctls: a sysctl that cannot be set fails the restore by name")
	}
	if o.GetLazyPages() {
		r.refuse("lazy_pages")
	}
	if o.StatusFd != nil {
		// CRIU (which calls it obsolete) writes it, as it sends the
		// status-ready notification, only once a page server or the
		// lazy-pages daemon is ready: never in a request we serve.
		r.accept("status_fd %d: written only when a page server or lazy pages are ready (both refused)", o.GetStatusFd())
	}
	// A pty slave whose master is outside the tree (runc's console) is
	// dumped; its restore sends a new master back (run.go).
	d.OrphanPtsMaster, r.orphanPts = o.GetOrphanPtsMaster(), o.GetOrphanPtsMaster()
	if o.Timeout != nil {
		r.accept("timeout %d: no effect, the tree is seized without a time limit", o.GetTimeout())
	}
	if o.PreDumpMode != nil {
		r.accept("pre_dump_mode %s: the images are the same whichever way the pages are read", o.GetPreDumpMode())
	}
	if o.GetDisplayStats() {
		r.accept("display_stats: the figures are in stats-dump / stats-restore and the log")
	}
	if o.GetLsmProfile() != "" {
		r.refuse("lsm_profile %q", o.GetLsmProfile())
	}
	if o.GetLsmMountContext() != "" {
		r.refuse("lsm_mount_context %q", o.GetLsmMountContext())
	}
	if o.GetTls() || o.GetTlsCacert() != "" || o.GetTlsCacrl() != "" || o.GetTlsCert() != "" || o.GetTlsKey() != "" || o.GetTlsNoCnVerify() {
		r.refuse("tls (page server)")
	}
	if o.PidfdStoreSk != nil {
		r.refuse("pidfd_store_sk (FEATURE_CHECK answers pidfd_store false)")
	}
	if o.NetworkLock != nil {
		switch o.GetNetworkLock() {
		case pb.CriuNetworkLockMethod_IPTABLES:
			d.NetworkLock = netlock.IPTables
		case pb.CriuNetworkLockMethod_NFTABLES:
			d.NetworkLock = netlock.NFTables
		case pb.CriuNetworkLockMethod_SKIP:
			d.NetworkLock = netlock.Skip
		}
	}
	if o.GetMntnsCompatMode() {
		r.refuse("mntns_compat_mode")
	}
	if o.GetSkipFileRwxCheck() {
		r.refuse("skip_file_rwx_check")
	}
	if o.GetUnprivileged() {
		r.refuse("unprivileged")
	}
	if o.GetLeaveStopped() {
		r.refuse("leave_stopped")
	}
}

// cgroups maps manage_cgroups, manage_cgroups_mode, cg_root and the
// cgroup_* options onto cgroup.Options (package cgroup), as CRIU: no
// mode and no manage_cgroups is CRIU's default, soft; manage_cgroups
// false alone is ignore.
func (r *request) cgroups(o *pb.CriuOpts) {
	var c cgroup.Options
	switch {
	case o.ManageCgroupsMode != nil:
		c.Mode = map[pb.CriuCgMode]cgroup.Mode{pb.CriuCgMode_IGNORE: cgroup.Ignore, pb.CriuCgMode_CG_NONE: cgroup.None,
			pb.CriuCgMode_PROPS: cgroup.PropsOnly, pb.CriuCgMode_SOFT: cgroup.Soft, pb.CriuCgMode_FULL: cgroup.Full,
			pb.CriuCgMode_STRICT: cgroup.Strict, pb.CriuCgMode_DEFAULT: cgroup.Soft}[o.GetManageCgroupsMode()]
	case o.ManageCgroups != nil && !o.GetManageCgroups():
		c.Mode = cgroup.Ignore
	}
	c.Roots = map[string]string{}
	for _, cr := range o.GetCgRoot() {
		arg := cr.GetPath()
		if cr.GetCtrl() != "" {
			arg = cr.GetCtrl() + ":" + arg
		}
		if err := cgroup.ParseRoot(c.Roots, arg); err != nil {
			r.refuse("cg_root: %v", err)
		}
	}
	c.Props = cgroup.DefaultProps()
	if p := o.GetCgroupProps(); p != "" {
		if err := c.Props.ParseProps(p); err != nil {
			r.refuse("cgroup_props: %v", err)
		}
	}
	if f := o.GetCgroupPropsFile(); f != "" {
		if err := c.Props.ParsePropsFile(f); err != nil {
			r.refuse("cgroup_props_file: %v", err)
		}
	}
	c.DumpControllers = o.GetCgroupDumpController()
	c.Yard = o.GetCgroupYard()
	r.dump.Cgroup, r.restore.Cgroup = c, c
}

// mounts maps ext_mnt (on dump a mount point and its key, on restore a
// key and the path it is bound from: --ext-mount-map's two meanings)
// and enable_fs onto the mount options (package mntns; one naming no
// mount is ignored, as CRIU: runc names every device of its config,
// also those it made with mknod). runc names one key twice on restore
// (/dev/null, for both /proc paths it masks): the same path twice is
// one entry, two paths for one key are refused.
func (r *request) mounts(o *pb.CriuOpts, isDump bool) {
	for _, m := range o.GetExtMnt() {
		k, v := m.GetKey(), m.GetVal()
		if k == "" || v == "" {
			r.refuse("ext_mnt %q:%q (want both a key and a value)", k, v)
			continue
		}
		ext := &r.restore.Mounts.External
		if isDump {
			ext = &r.dump.Mounts.External
		}
		if *ext == nil {
			*ext = map[string]string{}
		}
		if old, dup := (*ext)[k]; dup && old != v {
			r.refuse("ext_mnt %s given twice, as %s and %s", k, old, v)
			continue
		}
		(*ext)[k] = v
	}
	for _, fs := range o.GetEnableFs() {
		for _, f := range strings.Split(fs, ",") {
			if f == "" {
				continue
			}
			if r.dump.Mounts.EnableFS == nil {
				r.dump.Mounts.EnableFS = map[string]bool{}
			}
			r.dump.Mounts.EnableFS[f] = true
		}
	}
	// --ext-mount-map auto and its two companions (dump; restore binds
	// what the images name by AutoKey from their saved paths).
	d := &r.dump.Mounts
	d.Auto, d.ExternalSharing, d.ExternalMasters = o.GetAutoExtMnt(), o.GetExtSharing(), o.GetExtMasters()
	if len(o.GetSkipMnt()) > 0 {
		r.refuse("skip_mnt %q", o.GetSkipMnt())
	}
}

// external maps one external entry: veth[IN]:OUT on both sides,
// tty[RDEV:DEV] on dump (restore gets it through inherit_fd).
func (r *request) external(e string, isDump bool) {
	if key, ok, err := tty.ParseTTYKey(e); err != nil || ok {
		switch {
		case err != nil:
			r.refuse("external %q: %v", e, err)
		case isDump:
			if r.dump.ExternalTTY == nil {
				r.dump.ExternalTTY = map[string]bool{}
			}
			r.dump.ExternalTTY[key] = true
		default:
			r.refuse("external %q on restore (give the terminal with inherit_fd %s)", e, e)
		}
		return
	}
	if k, v, ok, err := mntns.ParseExternalMnt(e); err != nil || ok {
		ext := &r.restore.Mounts.External // mnt[KEY]:PATH
		if isDump {
			ext = &r.dump.Mounts.External // mnt[MOUNTPOINT]:KEY
		}
		switch {
		case err != nil:
			r.refuse("external %q: %v", e, err)
		case (*ext)[k] != "" && (*ext)[k] != v:
			r.refuse("external %q: %s is already %s", e, k, (*ext)[k])
		default:
			if *ext == nil {
				*ext = map[string]string{}
			}
			(*ext)[k] = v
		}
		return
	}
	if ino, key, ok, err := netns.ParseExternalNet(e); err != nil || ok {
		switch {
		case err != nil:
			r.refuse("external: %v", err)
		case isDump:
			if r.dump.ExternalNetns == nil {
				r.dump.ExternalNetns = map[uint64]string{}
			}
			r.dump.ExternalNetns[ino] = key
		default:
			r.accept("external %q on restore: the images name the key, the namespace is the inherit_fd given for it", e)
		}
		return
	}
	in, out, ok, err := netns.ParseExternal(e)
	if err != nil || !ok {
		r.refuse("external %q (veth[IFNAME]:OUTNAME, netdev[IFNAME]:DEV, macvlan[IFNAME]:PARENT, tty[RDEV:DEV] and mnt[KEY]:VALUE only)", e)
		return
	}
	addVeth(&r.restore, in, out)
}

// addVeth names the peer of a veth for the restore (the dump needs no
// name: CRIU's veth[IN]:OUT[@BRIDGE], see netns.ParseExternal).
func addVeth(rs *restore.Options, in, out string) {
	if rs.Veth == nil {
		rs.Veth = map[string]string{}
	}
	rs.Veth[in] = out
}

// unknownFields are the field numbers in b, the unknown fields of a
// message, each once.
func unknownFields(b []byte) []protowire.Number {
	var nums []protowire.Number
	seen := map[protowire.Number]bool{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			break
		}
		b = b[n+m:]
		if !seen[num] {
			seen[num] = true
			nums = append(nums, num)
		}
	}
	return nums
}
