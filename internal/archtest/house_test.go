package archtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// orchestrators are the two packages that run the phases; everything
// else under criu/ but the command is an object or a helper of them.
var orchestrators = []string{module + "/criu/dump", module + "/criu/restore"}

// TestObjectsBelowOrchestrators: restore does not link the dumper, and no
// package under criu/ (but the criu command, its RPC service criu/rpc,
// a front end like the command line, and the orchestrators themselves)
// links either orchestrator.
func TestObjectsBelowOrchestrators(t *testing.T) {
	all, importers := deps(t, module+"/criu/restore")
	for _, pkg := range all {
		if pkg == module+"/criu/dump" {
			t.Errorf("criu/restore links the dumper: %s", chain(importers, pkg))
		}
	}
	for _, pkg := range goList(t, "./criu/...") {
		if pkg == module+"/criu" || pkg == module+"/criu/rpc" || pkg == orchestrators[0] || pkg == orchestrators[1] {
			continue
		}
		all, importers := deps(t, pkg)
		for _, d := range all {
			if d == orchestrators[0] || d == orchestrators[1] {
				t.Errorf("%s links the orchestrator %s: %s", pkg, d, chain(importers, d))
			}
		}
	}
}

// maxLines bounds a package's non-test, non-generated Go.
const maxLines = 2500

// TestPackageSize: no package has more than maxLines lines of non-test
// Go that is not generated (a file saying "Code generated ... DO NOT
// EDIT." is generated).
func TestPackageSize(t *testing.T) {
	for _, line := range goList(t, "-f", `{{.ImportPath}} {{.Dir}} {{join .GoFiles " "}}`, "./...") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		n := 0
		for _, name := range f[2:] {
			b, err := os.ReadFile(filepath.Join(f[1], name))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("Code generated")) && bytes.Contains(b, []byte("DO NOT EDIT")) {
				continue
			}
			n += bytes.Count(b, []byte("\n"))
		}
		if n > maxLines {
			t.Errorf("%s: %d lines of non-test Go, more than %d: split it by object or concern", f[0], n, maxLines)
		}
	}
}
