package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLXCCommandLines runs each criu command line that LXC 5.0.2 passed
// (testdata/lxc-criu-argv.txt, recorded from lxc-checkpoint) with its
// images dir, log and freezer made the test's own and its pid one that
// does not exist: every option is taken (no usage error, status 2), and
// the command fails only where it meets that pid or the empty images dir.
// --version answers what LXC's version check wants.
func TestLXCCommandLines(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "lxc-criu-argv.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		args := strings.Fields(line)
		t.Run(args[0], func(t *testing.T) {
			if args[0] == "--version" {
				rc, out, _ := runCLI(args...)
				// LXC: fscanf "Version: %[^\n]", then strcmp with
				// "2.0" (required), "2.4" and "2.8" (features).
				m := regexp.MustCompile(`^Version: ([^\n]*)\n`).FindStringSubmatch(out)
				if rc != 0 || m == nil || m[1] < "2.8" {
					t.Errorf("--version: rc=%d %q", rc, out)
				}
				return
			}
			dir := t.TempDir()
			for i := 1; i < len(args); i++ {
				switch args[i-1] {
				case "-D":
					args[i] = dir
				case "-o":
					args[i] = filepath.Join(dir, args[0]+".log")
				case "-t":
					args[i] = "4194000" // above pid_max's default
				}
			}
			rc, _, errs := runCLI(args...)
			want := map[string]string{"dump": "4194000", "pre-dump": "4194000", "restore": "inventory"}[args[0]]
			if rc != 1 || !strings.Contains(errs, want) {
				t.Errorf("rc=%d (want 1, an error naming %s)\nstderr: %s", rc, want, errs)
			}
		})
	}
	if n != 5 {
		t.Errorf("%d command lines, want 5", n)
	}
}
