package runner

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// nsKinds are the namespaces a test of the ns flavor has of its own, by
// their names under /proc/PID/ns.
var nsKinds = []string{"pid", "net", "uts", "ipc", "mnt"}

// checkNamespaces checks that the test task pid lives where its flavor
// puts it: in the ns and ct flavors in namespaces of its own, as pid 1
// of its pid namespace (in ct, in its container too); in the h flavor
// in the runner's namespaces (but those its desc says it owns). netns is the
// network namespace the task was started or restored from (a two-hosts
// side), "" for the runner's. It catches a test binary that ignores
// ZDTM_FLAVOR, and a restore that rebuilds a task in the wrong place.
func (ru *run) checkNamespaces(pid int) error {
	for _, kind := range nsKinds {
		ref := "/proc/self/ns/" + kind
		if kind == "net" {
			if p := ru.netnsPath(); p != "" {
				ref = p
			}
		}
		want, err := nsID(ref)
		if err != nil {
			return err
		}
		got, err := nsID(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
		if err != nil {
			return err
		}
		switch {
		case ru.flavor != FlavorHost && got == want:
			hint := "does the test honour ZDTM_FLAVOR=" + ru.flavor + "?"
			if ru.restored {
				hint = "criu restored it outside its namespaces"
			}
			return fmt.Errorf("flavor %s: task %d shares the %s namespace %s of %s (%s)", ru.flavor, pid, kind, got, ref, hint)
		case ru.flavor == FlavorHost && slices.Contains(ru.t.Owns, kind):
			if got == want {
				return fmt.Errorf("flavor h: task %d shares the %s namespace %s of %s, and its desc says it makes its own (owns: %s)", pid, kind, got, ref, kind)
			}
		case ru.flavor == FlavorHost && got != want:
			return fmt.Errorf("flavor h: task %d is in the %s namespace %s, not %s of %s", pid, kind, got, want, ref)
		}
	}
	if ru.flavor == FlavorHost {
		return nil
	}
	ids, err := nsPids(pid)
	if err != nil {
		return err
	}
	if len(ids) < 2 || ids[len(ids)-1] != "1" {
		return fmt.Errorf("flavor %s: task %d has pids %v in its pid namespaces, want it to be 1 in the innermost", ru.flavor, pid, ids)
	}
	if ru.ct != nil {
		return ru.ct.check(pid)
	}
	return nil
}

// netnsPath is the two-hosts network namespace the test runs in now:
// the source side until restored, then the destination side.
func (ru *run) netnsPath() string {
	h := ru.r.hosts
	if h == nil {
		return ""
	}
	if ru.restored {
		return h.dstPath()
	}
	return h.srcPath()
}

// nsID names the namespace at path (a /proc/PID/ns link or a bind mount
// of one, such as /var/run/netns/NAME) by its nsfs device and inode.
func nsID(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", fmt.Errorf("read namespace %s: %w", path, err)
	}
	return fmt.Sprintf("[%d:%d]", st.Dev, st.Ino), nil
}

// nsPids returns the NSpid line of /proc/PID/status: the task's pid in
// each pid namespace it belongs to, outermost first.
func nsPids(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
			return strings.Fields(v), nil
		}
	}
	return nil, fmt.Errorf("/proc/%d/status has no NSpid line", pid)
}
