package main

import (
	"testing"

	"github.com/spf13/pflag"
)

func TestDumpMountFlags(t *testing.T) {
	fs := pflag.NewFlagSet("dump", pflag.ContinueOnError)
	ext := addDumpExternalFlag(fs)
	mnt := addDumpMountFlags(fs)
	if err := fs.Parse([]string{"--external", "mnt[/usr]:usr", "--external", "veth[a]:b", "-M", "/etc/hosts:hosts", "--enable-fs", "hugetlbfs,tracefs", "--enable-fs", "fuse"}); err != nil {
		t.Fatal(err)
	}
	if veth, _, err := ext(); err != nil || veth["a"] != "b" || len(veth) != 1 {
		t.Errorf("veth %v %v", veth, err)
	}
	o, err := mnt()
	if err != nil || o.External["/usr"] != "usr" || o.External["/etc/hosts"] != "hosts" || len(o.External) != 2 ||
		!o.EnableFS["hugetlbfs"] || !o.EnableFS["tracefs"] || !o.EnableFS["fuse"] {
		t.Errorf("mounts %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--external", "mnt[/a]:x", "-M", "/a:y"},
		{"-M", "nokey"},
		{"-M", "auto"},
		{"--external", "mnt[]:k"},
	} {
		fs := pflag.NewFlagSet("dump", pflag.ContinueOnError)
		addDumpExternalFlag(fs)
		mnt := addDumpMountFlags(fs)
		if err := fs.Parse(bad); err != nil {
			t.Fatal(err)
		}
		if _, err := mnt(); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
