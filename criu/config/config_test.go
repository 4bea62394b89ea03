package config

import (
	"reflect"
	"testing"

	"github.com/criugo/criu/criu/crtest"
)

func TestMain(m *testing.M) { crtest.RunWithFdCheck(m) }

func TestParseConfig(t *testing.T) {
	lines, err := Parse("# a comment\ntcp-established\n  log-file \"/a b/c.log\" # trailing\n\n--verbosity=4\nexternal \"say \\\"hi\\\"\"\n")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, l := range lines {
		got = append(got, l.Words)
	}
	want := [][]string{{"--tcp-established"}, {"--log-file", "/a b/c.log"}, {"--verbosity=4"}, {"--external", `say "hi"`}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if lines[1].N != 3 {
		t.Errorf("line number %d, want 3", lines[1].N)
	}
	if _, err := Parse("root \"/x\n"); err == nil {
		t.Error("an unterminated quote parsed")
	}
}

// CRIU's order: the default files unless --no-default-config or
// --config, then $CRIU_CONFIG_FILE, then --config.
func TestConfigFiles(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{nil, map[string]string{"HOME": "/h"}, []string{Global, "/h/.criu/default.conf"}},
		{nil, nil, []string{Global}},
		{[]string{"--no-default-config"}, map[string]string{"HOME": "/h", "CRIU_CONFIG_FILE": "/e"}, []string{"/e"}},
		{[]string{"--config", "/c"}, map[string]string{"HOME": "/h", "CRIU_CONFIG_FILE": "/e"}, []string{"/e", "/c"}},
		{[]string{"--config=/c"}, nil, []string{"/c"}},
		{[]string{"--", "--config=/c"}, nil, []string{Global}},
	} {
		if got := Files(c.args, env(c.env)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Files(%q, %v) = %q, want %q", c.args, c.env, got, c.want)
		}
	}
}
