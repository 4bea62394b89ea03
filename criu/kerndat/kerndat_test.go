package kerndat

import (
	"os"
	"strings"
	"testing"
)

// TestRequiredProbes runs every probe; as root on a kernel this project
// supports (5.10+ with clone3 set_tid), each required one must pass.
func TestRequiredProbes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: ptrace and clone3 set_tid")
	}
	res := RunAll()
	if len(res) != len(Probes) {
		t.Fatalf("%d results for %d probes", len(res), len(Probes))
	}
	for _, r := range res {
		t.Logf("%-18s ok=%v %s", r.Name, r.OK, r.Detail)
		if r.Required && !r.OK {
			t.Errorf("required feature %s: %s", r.Name, r.Detail)
		}
		if r.Detail == "" {
			t.Errorf("%s: no detail", r.Name)
		}
	}
}

// The namespaces probe names the ip tool it found, and fails naming a
// missing one.
func TestProbeNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	t.Setenv("CR_IP_TOOL", "/nonexistent/ip")
	if _, err := probeNamespaces(); err == nil {
		t.Error("no error with a missing ip tool")
	}
	t.Setenv("CR_IP_TOOL", "")
	d, err := probeNamespaces()
	if err != nil {
		t.Skipf("namespaces here: %v", err)
	}
	if !strings.Contains(d, "ip") {
		t.Errorf("detail %q does not name the ip tool", d)
	}
}
