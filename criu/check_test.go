package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/kerndat"
)

// criu42Features is CRIU 4.2's list (criu check --help).
var criu42Features = strings.Fields(`mnt_id mem_dirty_track aio_remap timerfd tun
	tun_ns userns fdinfo_lock seccomp_suspend seccomp_filters loginuid cgroupns autofs
	tcp_half_closed compat_cr uffd uffd-noncoop can_map_vdso sk_ns sk_unix_file
	net_diag_raw nsid link_nsid kcmp_epoll timens external_net_ns clone3_set_tid
	newifindex nftables has_ipt_legacy pidfd_store ns_pid apparmor_stacking
	network_lock_nftables sockopt_buf_lock memfd_hugetlb move_mount_set_group openat2
	get_rseq_conf ipv6_freebind pagemap_scan timer_cr_ids overlayfs_maps breakpoints
	pagemap_scan_guard_pages`)

// Every CRIU feature name is known and answered: supported with a
// detail, or not with a reason; a name this build does not handle says
// so whatever the kernel offers. Unknown names are errors.
func TestCheckFeatureNames(t *testing.T) {
	if len(kerndat.Features) != len(criu42Features) {
		t.Errorf("%d features, CRIU 4.2 has %d", len(kerndat.Features), len(criu42Features))
	}
	for _, name := range criu42Features {
		f, ok := kerndat.LookupFeature(name)
		if !ok {
			t.Errorf("%s: unknown", name)
			continue
		}
		rc, out, errs := runCLI("check", "--feature", name)
		d, err := f.Check()
		t.Logf("%-24s rc=%d %s%s", name, rc, strings.TrimSpace(out), strings.TrimSpace(errs))
		switch {
		case err == nil:
			if rc != 0 || out != name+" is supported\n" || d == "" {
				t.Errorf("%s: supported (%s) but rc=%d stdout=%q", name, d, rc, out)
			}
		default:
			if rc != 1 || !strings.Contains(errs, name+" isn't supported: "+err.Error()) {
				t.Errorf("%s: unsupported (%v) but rc=%d stderr=%q", name, err, rc, errs)
			}
			var nb *kerndat.NotBuiltError
			if errors.As(err, &nb) && nb.Why == "" {
				t.Errorf("%s: not built, no reason", name)
			}
		}
	}
	rc, _, errs := runCLI("check", "--feature", "no_such_feature")
	if rc != 1 || !strings.Contains(errs, "Unknown feature no_such_feature") {
		t.Errorf("unknown feature: rc=%d stderr=%q", rc, errs)
	}
	// Names this criu never handles, whatever the kernel: a caller must
	// not be told they work.
	for _, name := range []string{"compat_cr", "uffd", "userns"} {
		f, _ := kerndat.LookupFeature(name)
		if _, err := f.Check(); !errors.Is(err, kerndat.ErrNotBuilt) {
			t.Errorf("%s: %v, want not built", name, err)
		}
	}
}

// The features this criu uses, probed on a kernel that has them all
// (6.15+: PR_TIMER_CREATE_RESTORE_IDS), as root: each is supported, run
// through the real binary.
func TestCheckFeatureKernel(t *testing.T) {
	crtest.RequireRoot(t)
	var u unix.Utsname
	unix.Uname(&u)
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err != nil || major < 6 || major == 6 && minor < 15 {
		t.Skipf("kernel %s: older than 6.15", unix.ByteSliceToString(u.Release[:]))
	}
	bin := crtest.Criu(t)
	for _, name := range []string{"mem_dirty_track", "timerfd", "fdinfo_lock", "kcmp_epoll",
		"clone3_set_tid", "ns_pid", "sockopt_buf_lock", "get_rseq_conf", "ipv6_freebind", "pagemap_scan", "timer_cr_ids",
		"timens", "cgroupns", "tcp_half_closed", "move_mount_set_group", "mnt_id"} {
		out, err := crtest.Run(context.Background(), bin, "check", "--feature", name)
		if err != nil || out != name+" is supported\n" {
			t.Errorf("criu check --feature %s: %v %q", name, err, out)
		}
	}
	out, err := crtest.Run(context.Background(), bin, "check", "--feature", "compat_cr")
	if code(err) != 1 || !strings.Contains(out, "compat_cr isn't supported: 32-bit") {
		t.Errorf("criu check --feature compat_cr: %v %q", err, out)
	}
	// --all: every extra and experimental name, CRIU's verdict and status.
	out, err = crtest.Run(context.Background(), bin, "check", "--all")
	if code(err) != 1 || !strings.Contains(out, "Looks good but some kernel features are missing") ||
		!strings.Contains(out, "compat_cr") || !strings.Contains(out, "pagemap_scan") {
		t.Errorf("criu check --all: %v\n%s", err, out)
	}
	// --extra leaves the experimental ones out.
	out, _ = crtest.Run(context.Background(), bin, "check", "--extra")
	if strings.Contains(out, "compat_cr") || !strings.Contains(out, "timer_cr_ids") {
		t.Errorf("criu check --extra:\n%s", out)
	}
}

func code(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}
