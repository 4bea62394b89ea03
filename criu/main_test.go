package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	tests := []struct {
		args    []string
		rc      int
		out     string // substring of stdout
		errText string // substring of stderr
	}{
		{[]string{"--version"}, 0, "Version: 4.2\nGitID: criu-go-", ""},
		{[]string{"-V"}, 0, "Version: 4.2\n", ""},
		{[]string{"--help"}, 0, "Commands:", ""},
		{nil, 2, "", "Usage:"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"show", "--help"}, 0, "--images-dir", ""},
		{[]string{"help", "show"}, 0, "--images-dir", ""},
		{[]string{"show", "--bogus"}, 2, "", "unknown flag: --bogus"},
		{[]string{"show"}, 2, "", "name image files"},
		{[]string{"show", "--verbosity=9", "x.img"}, 2, "", "verbosity must be 0..4"},
		{[]string{"-v4", "show", "/nonexistent/core-1.img"}, 1, "", "no such file"},
		{[]string{"show", "--log-format", "xml", "a.img"}, 1, "", "--log-format must be text or json"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			rc, out, errs := runCLI(tt.args...)
			if rc != tt.rc || !strings.Contains(out, tt.out) || !strings.Contains(errs, tt.errText) {
				t.Errorf("rc=%d (want %d)\nstdout: %s\nstderr: %s", rc, tt.rc, out, errs)
			}
		})
	}
}

func TestVerbosityForms(t *testing.T) {
	for arg, want := range map[string]int{"-v": 4, "-v0": 0, "-v3": 3, "--verbosity=1": 1, "-vv": 4, "-v1x": 1, "-v9": 4, "-verbosity=0": 0} {
		fs, lo, _ := newFlagSet(commands["show"])
		if err := fs.Parse(fixVerbosity([]string{arg})); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		if lo.verbosity != want {
			t.Errorf("%s: verbosity %d, want %d", arg, lo.verbosity, want)
		}
	}
}

func TestCompatFlags(t *testing.T) {
	// A refused CRIU option fails before anything is done, naming itself.
	rc, _, errs := runCLI("dump", "-t", "1", "-D", t.TempDir(), "--stream")
	if rc != 2 || !strings.Contains(errs, "--stream") {
		t.Errorf("refused option: rc=%d stderr=%s", rc, errs)
	}
	rc, _, errs = runCLI("restore", "-D", t.TempDir(), "--lazy-pages")
	if rc != 2 || !strings.Contains(errs, "--lazy-pages: lazy pages") {
		t.Errorf("refused option: rc=%d stderr=%s", rc, errs)
	}
	// An accepted one passes through to the command's own checks.
	rc, _, errs = runCLI("restore", "--log-pid", "-W", "/tmp", "--manage-cgroups=ignore", "-D", "/nonexistent-dir")
	if rc != 1 || !strings.Contains(errs, "images dir") {
		t.Errorf("accepted options: rc=%d stderr=%s", rc, errs)
	}
	// A command's own flag wins over the compat table (no redefinition panic).
	rc, out, _ := runCLI("dump", "--help")
	if rc != 0 || !strings.Contains(out, "--tcp-established") || !strings.Contains(out, "--leave-running") {
		t.Errorf("dump --help: rc=%d\n%s", rc, out)
	}
}

func TestExternalFlag(t *testing.T) {
	veth, err := parseExternal([]string{"veth[eth0]:vout0", "veth[eth1]:vout1", "netdev[eth2]:pre2"})
	if err != nil || len(veth) != 3 || veth["eth0"] != "vout0" || veth["eth1"] != "vout1" || veth["eth2"] != "netdev:pre2" {
		t.Fatalf("parseExternal = %v, %v", veth, err)
	}
	for _, bad := range []string{"veth[eth0]", "veth[]:x", "veth[eth0:x", "mnt[/a]:b", "tty[88:1]", "veth[eth0]:", "veth[a/b]:c", "netdev[eth0]", "netdev[e]:a b"} {
		if _, err := parseExternal([]string{bad}); err == nil {
			t.Errorf("parseExternal(%q): no error", bad)
		}
	}
	// dump takes terminals too, by CRIU's key; restore is given them
	// with --inherit-fd.
	fs := pflag.NewFlagSet("dump", pflag.ContinueOnError)
	ext := addDumpExternalFlag(fs)
	if err := fs.Parse([]string{"--external", "tty[8801:1A]", "--external", "veth[a]:b", "--external", "net[4026532000]:outer"}); err != nil {
		t.Fatal(err)
	}
	if veth, ttys, nets, err := ext(); err != nil || veth["a"] != "b" || len(ttys) != 1 || !ttys["tty[8801:1a]"] || nets[4026532000] != "outer" || len(nets) != 1 {
		t.Errorf("dump --external tty, veth, net: %v %v %v %v", veth, ttys, nets, err)
	}
	fs = pflag.NewFlagSet("dump", pflag.ContinueOnError)
	ext = addDumpExternalFlag(fs)
	fs.Parse([]string{"--external", "tty[8801]"})
	if _, _, _, err := ext(); err == nil {
		t.Error("dump --external tty[8801]: no error")
	}
	if _, err := parseExternal([]string{"veth[a]:b", "veth[a]:c"}); err == nil {
		t.Error("veth given twice: no error")
	}
	// restore ignores a value of no KIND[...] form, as CRIU (LXC's
	// "console:/dev/pts/0"), and still parses the rest.
	fs = pflag.NewFlagSet("restore", pflag.ContinueOnError)
	rext := addExternalFlag(fs)
	fs.Parse([]string{"--external", "console:/dev/pts/0", "--external", "veth[a]:b", "--external", "apparmor:unconfined"})
	if veth, ignored, err := rext(); err != nil || veth["a"] != "b" || len(ignored) != 2 || ignored[0] != "console:/dev/pts/0" {
		t.Errorf("restore --external console: %v %v %v", veth, ignored, err)
	}
	// Other forms are refused by name before anything is done.
	rc, _, errs := runCLI("restore", "-D", t.TempDir(), "--external", "unix[123]")
	if rc != 2 || !strings.Contains(errs, `not "unix"`) {
		t.Errorf("--external unix: rc=%d stderr=%s", rc, errs)
	}
	rc, _, errs = runCLI("restore", "-D", t.TempDir(), "--external", "mnt[x]", "--ext-mount-map", "a:b")
	if rc != 2 || !strings.Contains(errs, "mnt[x]") {
		t.Errorf("--external mnt[x]: rc=%d stderr=%s", rc, errs)
	}
	rc, _, errs = runCLI("dump", "-t", "1", "-D", t.TempDir(), "--external", "unix[123]")
	if rc != 2 || !strings.Contains(errs, `not "unix"`) {
		t.Errorf("dump --external unix: rc=%d stderr=%s", rc, errs)
	}
	rc, out, _ := runCLI("restore", "--help")
	if rc != 0 || !strings.Contains(out, "veth[IFNAME]:OUTNAME") {
		t.Errorf("restore --help lacks --external veth:\n%s", out)
	}
}

// Options whose being ignored would change the result are refused by
// name, with the reason; the value that asks for what we do anyway is
// accepted (then the command's own checks run: here, a missing -D).
func TestCompatRefusedValues(t *testing.T) {
	tests := []struct {
		opt  string
		rc   int
		text string
	}{
		{"--cpu-cap", 2, "--cpu-cap=all: CPU features are not saved"},
		{"--cpu-cap=fpu", 2, "--cpu-cap=fpu: CPU features are not saved"},
		{"--cpu-cap=^fpu,ins", 2, "--cpu-cap=^fpu,ins:"},
		{"--cpu-cap=none", 1, "images dir"},
		// Every cgroup mode is taken (package cgroup), a wrong one refused.
		{"--manage-cgroups", 1, "images dir"},
		{"--manage-cgroups=full", 1, "images dir"},
		{"--manage-cgroups=none", 1, "images dir"},
		{"--manage-cgroups=ignore", 1, "images dir"},
		{"--manage-cgroups=hard", 2, "--manage-cgroups"},
	}
	for _, cmd := range []string{"dump", "pre-dump", "restore"} {
		for _, tt := range tests {
			args := []string{cmd, tt.opt, "-D", "/nonexistent-dir"}
			if cmd != "restore" {
				args = append(args, "-t", "1")
			}
			rc, _, errs := runCLI(args...)
			if rc != tt.rc || !strings.Contains(errs, tt.text) {
				t.Errorf("criu %s %s: rc=%d (want %d) stderr=%s", cmd, tt.opt, rc, tt.rc, errs)
			}
		}
	}
}

// TestLogInWorkDir: a relative -o lands in -W, else in -D (CRIU's rule),
// and each run truncates it.
func TestLogInWorkDir(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "w")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "-D", dir, "-o", "a.log", "-v4"}, filepath.Join(dir, "a.log")},
		{[]string{"restore", "-D", dir, "-W", work, "-o", "b.log", "-v4"}, filepath.Join(work, "b.log")},
	} {
		for i := 0; i < 2; i++ {
			runCLI(tc.args...)
		}
		b, err := os.ReadFile(tc.want)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if n := strings.Count(string(b), "no such file"); n != 1 {
			t.Errorf("%s holds %d runs' errors, want the last run's only:\n%s", tc.want, n, b)
		}
	}
}
