package kerndat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/netlock"
	"github.com/criugo/criu/criu/netns"
	"github.com/criugo/criu/criu/ptrace"
	"github.com/criugo/criu/criu/sockets/raw"
	"github.com/criugo/criu/criu/tun"
	"github.com/criugo/criu/internal/linux"
)

// CRIU's feature names (`criu check --feature NAME`, CRIU 4.2's list in
// cr-check.c), answered for this criu. A caller (zdtm's `feature` in a
// test's desc, runc, LXC, scripts) runs the check to learn whether dump
// and restore will handle what the feature stands for, so a feature is
// supported only when both hold: the kernel has it (probed here) and
// this build uses it or handles what it stands for. A feature this build
// does not handle is unsupported whatever the kernel offers, with the
// reason; so is one it handles another way only when that way is not
// what a caller would rely on.
//
// When support for one of the "not in this build" rows (lazy pages,
// ...) lands, its row here changes to a kernel probe, as the seccomp
// rows did.

// Category says which of `criu check --extra/--experimental` lists a
// feature, as CRIU's cr_check does.
type Category int

const (
	// ByName: checked only with --feature NAME.
	ByName Category = iota
	// Extra: also with --extra and --all.
	Extra
	// Experimental: also with --experimental and --all.
	Experimental
)

// Feature is one CRIU feature name and how this criu answers it.
type Feature struct {
	Name     string
	Category Category
	// Check returns what was found, or an error saying why the feature
	// is not supported here.
	Check func() (string, error)
}

// ErrNotBuilt marks a feature this criu does not handle, whatever the
// kernel offers (errors.Is on a NotBuiltError).
var ErrNotBuilt = errors.New("not handled by this criu")

// NotBuiltError says why this criu does not handle a feature.
type NotBuiltError struct{ Why string }

func (e *NotBuiltError) Error() string        { return e.Why }
func (e *NotBuiltError) Is(target error) bool { return target == ErrNotBuilt }

// notBuilt answers a feature this build does not handle.
func notBuilt(why string) func() (string, error) {
	return func() (string, error) { return "", &NotBuiltError{why} }
}

// Features lists CRIU 4.2's feature names in CRIU's order.
var Features = []Feature{
	{"mnt_id", Extra, probeMntID},
	{"mem_dirty_track", Extra, probeDirtyTrack},
	{"aio_remap", Extra, probeAioRemap},
	{"timerfd", Extra, probeTimerfd},
	{"tun", ByName, probeTun},
	{"tun_ns", ByName, probeTun},
	{"userns", Extra, notBuilt("user namespaces are not checkpointed")},
	{"fdinfo_lock", Extra, probeFdinfoLock},
	{"seccomp_suspend", Extra, probeSeccompSuspend},
	{"seccomp_filters", Extra, probeSeccompFilters},
	{"loginuid", Extra, probeLoginuid},
	{"cgroupns", Extra, probeNS("cgroup")},
	{"autofs", Experimental, notBuilt("autofs mounts are not checkpointed")},
	{"tcp_half_closed", Extra, probeTCPRepair},
	{"compat_cr", Experimental, notBuilt("32-bit (compat) tasks are not checkpointed")},
	{"uffd", Extra, notBuilt("lazy pages are not supported (memory tracking's userfaultfd is mem_dirty_track)")},
	{"uffd-noncoop", Extra, notBuilt("lazy pages are not supported")},
	{"can_map_vdso", Extra, notBuilt("the vDSO is not mapped at restore (ARCH_MAP_VDSO): the restorer's own is moved, and must match the dumped one")},
	{"sk_ns", Extra, notBuilt("a socket's own network namespace (SIOCGSKNS) is not read: sockets are taken to be in their task's")},
	{"sk_unix_file", ByName, notBuilt("UNIX socket files are not reopened through the socket (SIOCUNIXFILE)")},
	{"net_diag_raw", Extra, probeNetDiagRaw},
	{"nsid", ByName, probeNetnsIDs},
	{"link_nsid", ByName, probeNetnsIDs},
	{"kcmp_epoll", Extra, probeKcmpEpoll},
	{"timens", Extra, probeTimens},
	{"external_net_ns", ByName, func() (string, error) {
		return "--external net[INODE]:KEY at dump, --inherit-fd fd[N]:KEY at restore", nil
	}},
	{"clone3_set_tid", Extra, probeClone3},
	{"newifindex", Extra, probeNewIfindex},
	{"nftables", ByName, netlock.ProbeNFT},
	{"has_ipt_legacy", ByName, probeIptLegacy},
	{"pidfd_store", Extra, notBuilt("the RPC's pidfd_store_sk is refused: pid reuse between pre-dumps is not detected through pidfds")},
	{"ns_pid", Extra, probeNSpid},
	{"apparmor_stacking", ByName, notBuilt("LSM (AppArmor) profiles are not checkpointed")},
	{"network_lock_nftables", Extra, netlock.ProbeNFT},
	{"sockopt_buf_lock", Extra, probeBufLock},
	{"memfd_hugetlb", Extra, probeMemfdHugetlb},
	{"move_mount_set_group", Extra, probeMoveMountSetGroup},
	{"openat2", Extra, notBuilt("paths are not resolved with openat2")},
	{"get_rseq_conf", Extra, probeRseqConf},
	{"ipv6_freebind", Extra, probeIPv6Freebind},
	{"pagemap_scan", Extra, probeMemTrack},
	{"timer_cr_ids", Extra, probeTimerIDs},
	{"overlayfs_maps", Extra, notBuilt("files mapped from overlayfs are not told apart from their lower files")},
	{"breakpoints", ByName, notBuilt("hardware breakpoints are not used")},
	{"pagemap_scan_guard_pages", Extra, probeGuardPages},
}

// LookupFeature returns the feature of that CRIU name.
func LookupFeature(name string) (Feature, bool) {
	for _, f := range Features {
		if f.Name == name {
			return f, true
		}
	}
	return Feature{}, false
}

// probeTun: tun/tap devices of a network namespace the dump saves, and
// the files attached to them, are checkpointed (package tun): it needs
// /dev/net/tun, TUNSETIFINDEX (the device's index back) and
// TUNGETDEVNETNS (a file's device's namespace, CRIU's tun_ns).
func probeTun() (string, error) {
	fd, err := unix.Open(tun.Path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", tun.Path, err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETIFINDEX, 13); err != nil {
		return "", fmt.Errorf("ioctl TUNSETIFINDEX: %w", err)
	}
	// An unattached file: EBADFD says the call exists.
	if _, err := unix.IoctlRetInt(fd, unix.TUNGETDEVNETNS); !errors.Is(err, unix.EBADFD) {
		return "", fmt.Errorf("ioctl TUNGETDEVNETNS: %v", err)
	}
	return tun.Path, nil
}

// probeIptLegacy: a network namespace's legacy (x_tables) iptables
// rules are saved and restored through iptables-legacy-save and
// iptables-legacy-restore, as CRIU does when they are installed.
func probeIptLegacy() (string, error) {
	var found []string
	for _, p := range []string{"iptables-legacy-save", "iptables-legacy-restore"} {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%s is not installed: legacy iptables rules cannot be saved", p)
		}
		found = append(found, path)
	}
	return strings.Join(found, ", "), nil
}

// probeDirtyTrack: pre-dump --track-mem works, through soft-dirty bits
// or through userfaultfd write-protection and PAGEMAP_SCAN.
func probeDirtyTrack() (string, error) {
	d, err := probeMemTrack()
	if err == nil {
		return d + " (not soft-dirty)", nil
	}
	if d, err2 := probeSoftDirty(); err2 == nil {
		return "soft-dirty " + d, nil
	}
	return "", fmt.Errorf("memory write tracking: %w", err)
}

// probeFdinfoLock: fdinfo shows the lock an fd holds (file locks).
func probeFdinfoLock() (string, error) {
	f, err := os.CreateTemp("", "criu-check-lock-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		return "", os.NewSyscallError("flock", err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd()))
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(b), "lock:") {
		return "", fmt.Errorf("/proc/PID/fdinfo shows no lock: line for a flock()ed file")
	}
	return "fdinfo shows locks", nil
}

// probeTimerfd: a timerfd's ticks can be set (TFD_IOC_SET_TICKS), as
// restore does.
func probeTimerfd() (string, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		return "", os.NewSyscallError("timerfd_create", err)
	}
	defer unix.Close(fd)
	if err := linux.TimerfdSetTicks(fd, 1); err != nil {
		return "", err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(b), "it_value:") {
		return "", fmt.Errorf("/proc/PID/fdinfo of a timerfd has no it_value")
	}
	return "TFD_IOC_SET_TICKS and timerfd fdinfo", nil
}

// probeMntID: an fd's fdinfo names the mount its file is on (mnt_id),
// which the dump records with each file opened by path (files.img's
// mnt_id, when the tree's mount namespace is dumped) and checks against
// the task's mount table; checked here on a file of criu's own.
func probeMntID() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", f.Fd()))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "mnt_id:"); ok && strings.TrimSpace(v) != "" {
			return "fdinfo mnt_id", nil
		}
	}
	return "", fmt.Errorf("/proc/PID/fdinfo has no mnt_id")
}

// probeNetnsIDs: the network namespace code reads peers' namespace ids
// (link_netnsid) through the ip tool.
func probeNetnsIDs() (string, error) {
	return probeNamespaces()
}

// probeNSpid: /proc/PID/status has NSpid (tasks in pid namespaces).
func probeNSpid() (string, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(b), "\nNSpid:") {
		return "", fmt.Errorf("/proc/PID/status has no NSpid")
	}
	return "NSpid in /proc/PID/status", nil
}

// probeBufLock: SO_BUF_LOCK, which dump reads and restore sets.
func probeBufLock() (string, error) {
	return probeSockopt(unix.AF_INET, unix.SOL_SOCKET, unix.SO_BUF_LOCK, "SO_BUF_LOCK")
}

// probeIPv6Freebind: IPV6_FREEBIND, which dump reads and restore sets.
func probeIPv6Freebind() (string, error) {
	return probeSockopt(unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, "IPV6_FREEBIND")
}

func probeSockopt(family, level, opt int, name string) (string, error) {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	v, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return "", os.NewSyscallError("getsockopt("+name+")", err)
	}
	if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
		return "", os.NewSyscallError("setsockopt("+name+")", err)
	}
	return name + " can be read and set", nil
}

// probeRseqConf: PTRACE_GET_RSEQ_CONFIGURATION on a seized child, as
// dump reads a thread's rseq registration.
func probeRseqConf() (string, error) {
	cmd := exec.Command("/bin/sleep", "10")
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start probe child: %w", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pid := cmd.Process.Pid
	t := ptrace.NewTracer()
	defer t.Close()
	if err := t.Seize(pid, 0); err != nil {
		return "", err
	}
	defer t.Detach(pid, 0)
	if _, err := t.GetRseq(pid); err != nil {
		return "", err
	}
	return "PTRACE_GET_RSEQ_CONFIGURATION works", nil
}

// probeTimerIDs: POSIX timers can be created with their old ids, as
// restore does.
func probeTimerIDs() (string, error) {
	if _, err := linux.PrctlTimerCreateRestoreIDs(linux.PR_TIMER_CREATE_RESTORE_IDS_GET); err != nil {
		return "", err
	}
	return "PR_TIMER_CREATE_RESTORE_IDS", nil
}

// seizeProbeChild starts a sleeping child, seizes it with opts, calls fn
// on it and detaches it (a failed detach is a failed probe).
func seizeProbeChild(opts int, fn func(t *ptrace.Tracer, pid int) (string, error)) (string, error) {
	cmd := exec.Command("/bin/sleep", "10")
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start probe child: %w", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pid := cmd.Process.Pid
	t := ptrace.NewTracer()
	defer t.Close()
	if err := t.Seize(pid, opts); err != nil {
		return "", err
	}
	found, err := fn(t, pid)
	if derr := t.Detach(pid, 0); err == nil && derr != nil {
		return "", derr
	}
	return found, err
}

// probeSeccompSuspend: PTRACE_O_SUSPEND_SECCOMP is accepted (dump and
// restore inject their syscalls past a task's filters with it).
func probeSeccompSuspend() (string, error) {
	return seizeProbeChild(ptrace.OptSuspendSeccomp, func(*ptrace.Tracer, int) (string, error) {
		return "PTRACE_O_SUSPEND_SECCOMP accepted", nil
	})
}

// probeSeccompFilters: PTRACE_SECCOMP_GET_FILTER exists (filters are
// read with it at dump). On a task without filters a kernel that has it
// answers EINVAL; one without it answers EIO, as to any unknown request.
func probeSeccompFilters() (string, error) {
	return seizeProbeChild(0, func(t *ptrace.Tracer, pid int) (string, error) {
		_, _, err := t.SeccompFilter(pid, 0)
		switch {
		case errors.Is(err, unix.EINVAL):
			return "PTRACE_SECCOMP_GET_FILTER present", nil
		case err == nil:
			return "", fmt.Errorf("PTRACE_SECCOMP_GET_FILTER on a task without filters gave a filter")
		default:
			return "", fmt.Errorf("PTRACE_SECCOMP_GET_FILTER: %w", err)
		}
	})
}

// probeLoginuid: the audit login uid can be written back (restore sets
// each task's from inside it, through /proc/PID/loginuid).
func probeLoginuid() (string, error) {
	f, err := os.OpenFile("/proc/self/loginuid", os.O_WRONLY, 0)
	if err != nil {
		return "", fmt.Errorf("/proc/self/loginuid: %w", err)
	}
	f.Close()
	return "/proc/PID/loginuid writable", nil
}

// probeNS: the kernel has namespaces of kind (/proc/self/ns/KIND), which
// this criu dumps and restores.
func probeNS(kind string) func() (string, error) {
	return func() (string, error) {
		if _, err := os.Readlink("/proc/self/ns/" + kind); err != nil {
			return "", err
		}
		return kind + " namespaces", nil
	}
}

// probeTimens: time namespaces, and their offsets readable (the dump
// saves them, timens-ID.img).
func probeTimens() (string, error) {
	if _, err := probeNS("time")(); err != nil {
		return "", err
	}
	if _, err := os.ReadFile("/proc/self/timens_offsets"); err != nil {
		return "", err
	}
	return "time namespaces with /proc/PID/timens_offsets", nil
}

// probeTCPRepair: TCP repair mode, with which established and
// half-closed connections are saved and made again (package soccr: our
// own FIN by a shutdown in repair mode, the peer's as a marked packet).
func probeTCPRepair() (string, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := linux.SetTCPRepair(fd, true); err != nil {
		return "", err
	}
	return "TCP_REPAIR", nil
}

// probeMoveMountSetGroup: move_mount knows MOVE_MOUNT_SET_GROUP (restore
// of a mount namespace joins mounts to their peer groups with it). An
// unknown flag is EINVAL before any path is looked up; a known one gets
// to the empty path (ENOENT).
func probeMoveMountSetGroup() (string, error) {
	const moveMountSetGroup = 0x100
	err := unix.MoveMount(-1, "", -1, "", moveMountSetGroup)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return "", fmt.Errorf("move_mount(MOVE_MOUNT_SET_GROUP): %w", err)
	}
	return "move_mount(MOVE_MOUNT_SET_GROUP)", nil
}

// probeNetDiagRaw: raw sock_diag answers for IPv4 and IPv6, which the
// dump of a raw socket reads (package raw), as CRIU's check.
func probeNetDiagRaw() (string, error) {
	if err := raw.Probe(); err != nil {
		return "", err
	}
	return "raw sock_diag for IPv4 and IPv6", nil
}

// probeNewIfindex: --external netdev[IFNAME]:DEVICE moves a device made
// before the restore into the restored namespace with the index the
// dumped link had (IFLA_NEW_IFINDEX).
func probeNewIfindex() (string, error) {
	if err := netns.ProbeNewIfindex(); err != nil {
		return "", err
	}
	return "IFLA_NEW_IFINDEX", nil
}
