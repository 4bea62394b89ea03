package archtest_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/criugo/criu"

// goList runs go list with args at the module's root and returns its
// output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("go list %s listed no package", strings.Join(args, " "))
	}
	return lines
}

// deps lists the packages pkgs depend on (themselves included, non-test
// code only), and for each the packages of that list importing it.
func deps(t *testing.T, pkgs ...string) (all []string, importers map[string][]string) {
	t.Helper()
	importers = map[string][]string{}
	for _, line := range goList(t, append([]string{"-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`}, pkgs...)...) {
		f := strings.Fields(line)
		all = append(all, f[0])
		for _, imp := range f[1:] {
			importers[imp] = append(importers[imp], f[0])
		}
	}
	return all, importers
}

// layerBottom are the packages at the bottom of the house: the wire
// protocol, the daemons and their shared plumbing. They must link
// neither the engine nor its protobufs.
var layerBottom = []string{
	module + "/remoteimg/...",
	module + "/internal/daemon",
	module + "/imgproxy",
	module + "/imgcache",
}

// forbidden reports why a dependency of a bottom package is not allowed
// ("" if it is): the engine (criu/..., the criu command included) and
// proto/images. Low-level packages under internal/ are allowed.
func forbidden(pkg string) string {
	switch {
	case strings.HasPrefix(pkg, module+"/internal/"):
		return ""
	case pkg == module+"/proto/images" || strings.HasPrefix(pkg, module+"/proto/images/"):
		return "the image protobufs"
	case pkg == module+"/criu" || strings.HasPrefix(pkg, module+"/criu/"):
		return "the engine"
	}
	return ""
}

// TestLayering: remoteimg, internal/daemon, imgproxy and imgcache (their
// non-test code) depend on no package under criu/ and not on
// proto/images (go list -deps).
func TestLayering(t *testing.T) {
	all, importers := deps(t, layerBottom...)
	for _, pkg := range all {
		if why := forbidden(pkg); why != "" {
			t.Errorf("%s (%s) is linked by the wire protocol or a daemon: %s", pkg, why, chain(importers, pkg))
		}
	}
}

// chain is one import path from a bottom package down to pkg, for the
// error: "imgcache -> ... -> pkg".
func chain(importers map[string][]string, pkg string) string {
	path := []string{pkg}
	seen := map[string]bool{pkg: true}
	for cur := pkg; ; {
		next := ""
		for _, imp := range importers[cur] {
			if !seen[imp] {
				next = imp
				break
			}
		}
		if next == "" {
			break
		}
		seen[next] = true
		path = append(path, next)
		cur = next
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return strings.Join(path, " -> ")
}
