package main

import (
	"testing"

	"github.com/spf13/pflag"
)

func TestExtUnixFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		all  bool
		inos int
		bad  bool
	}{
		{nil, false, 0, false},
		{[]string{"--ext-unix-sk"}, true, 0, false},
		{[]string{"--ext-unix-sk=12,13"}, false, 2, false},
		{[]string{"--ext-unix-sk=x"}, false, 0, true},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		get := addExtUnixFlag(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		all, inos, err := get()
		if (err != nil) != tc.bad || all != tc.all || len(inos) != tc.inos {
			t.Errorf("%v: all %v, inodes %v, err %v", tc.args, all, inos, err)
		}
	}
}
