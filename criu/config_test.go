package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
)

// A file's option the command lacks but another has is skipped; one no
// command has is an error with file and line; the command line wins.
func TestConfigArgs(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.conf")
	if err := os.WriteFile(conf, []byte("tcp-established\nverbosity 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, _, _ := newFlagSet(commands["check"])
	got, err := configArgs([]string{"--config", conf}, fs, func(string) string { return "" })
	if err != nil || !reflect.DeepEqual(got, []string{"--verbosity=1"}) {
		t.Errorf("check: %q, %v; want only --verbosity=1", got, err)
	}
	fs, _, _ = newFlagSet(commands["dump"])
	got, err = configArgs([]string{"--config", conf}, fs, func(string) string { return "" })
	if err != nil || !reflect.DeepEqual(got, []string{"--tcp-established", "--verbosity=1"}) {
		t.Errorf("dump: %q, %v", got, err)
	}
	if err := fs.Parse(append(got, "--config", conf, "--verbosity=3")); err != nil {
		t.Fatal(err)
	}
	if v := fs.Lookup("verbosity").Value.String(); v != "3" {
		t.Errorf("verbosity %s: the command line must win", v)
	}
	if err := os.WriteFile(conf, []byte("# x\nno-such-option 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := configArgs([]string{"--config", conf}, fs, func(string) string { return "" }); err == nil ||
		!strings.Contains(err.Error(), conf+":2") || !strings.Contains(err.Error(), "no-such-option") {
		t.Errorf("unknown option: %v", err)
	}
	if got, err := configArgs([]string{"--config", conf, "--help"}, fs, func(string) string { return "" }); err != nil || got != nil {
		t.Errorf("--help reads no file: %q, %v", got, err)
	}
}

// A real dump takes leave-running and its log file from
// $CRIU_CONFIG_FILE, and the command line's -o wins over the
// file's log-file of --config.
func TestConfigFileDump(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	bin := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "bigcounter.c"), false)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.txt")
	cmd := crtest.Start(t, bin, out, "1")
	defer crtest.Kill(cmd.Process.Pid)
	crtest.WaitFor(t, out, "tick 3\n", 10*time.Second)
	envConf := filepath.Join(dir, "env.conf")
	cliConf := filepath.Join(dir, "cli.conf")
	if err := os.WriteFile(envConf, []byte("# dump and let it run\nleave-running\nlog-file "+filepath.Join(dir, "env.log")+"\nverbosity 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cliConf, []byte("log-file "+filepath.Join(dir, "cli.log")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		args []string
		log  string
	}{
		{nil, "env.log"},
		{[]string{"--config", cliConf}, "cli.log"},
		{[]string{"--config", cliConf, "-o", filepath.Join(dir, "argv.log")}, "argv.log"},
	} {
		img := filepath.Join(dir, "img"+strconv.Itoa(i))
		if err := os.Mkdir(img, 0o755); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"dump", "-t", strconv.Itoa(cmd.Process.Pid), "-D", img}, c.args...)
		x := exec.Command(crtest.Criu(t), args...)
		x.Env = append(os.Environ(), "CRIU_CONFIG_FILE="+envConf, "HOME="+dir)
		if b, err := x.CombinedOutput(); err != nil {
			t.Fatalf("criu %q: %v\n%s", args, err, b)
		}
		if _, err := os.Stat(filepath.Join(img, "inventory.img")); err != nil {
			t.Errorf("%q: no images: %v", args, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, c.log)); err != nil || !strings.Contains(string(b), "dump done") {
			t.Errorf("%q: log %s: %v\n%s", args, c.log, err, b)
		}
		if !crtest.Alive(cmd.Process.Pid) {
			t.Fatalf("%q: the counter is gone: leave-running of the file not taken", args)
		}
		os.Remove(filepath.Join(dir, c.log))
	}
}
