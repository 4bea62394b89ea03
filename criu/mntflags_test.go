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
	if veth, _, _, err := ext(); err != nil || veth["a"] != "b" || len(veth) != 1 {
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

// LXC's dump: --ext-mount-map auto with external sharing and masters;
// its restore passes auto too, beside the KEY:PATH ones.
func TestAutoMountFlags(t *testing.T) {
	fs := pflag.NewFlagSet("dump", pflag.ContinueOnError)
	addDumpExternalFlag(fs)
	mnt := addDumpMountFlags(fs)
	if err := fs.Parse([]string{"--ext-mount-map", "auto", "--enable-external-sharing", "--enable-external-masters", "--ext-mount-map", "/lib:lib"}); err != nil {
		t.Fatal(err)
	}
	if o, err := mnt(); err != nil || !o.Auto || !o.ExternalSharing || !o.ExternalMasters || len(o.External) != 1 || o.External["/lib"] != "lib" {
		t.Errorf("dump: %+v %v", o, err)
	}
	fs = pflag.NewFlagSet("dump", pflag.ContinueOnError)
	addDumpExternalFlag(fs)
	mnt = addDumpMountFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if o, err := mnt(); err != nil || o.Auto || o.ExternalSharing || o.ExternalMasters {
		t.Errorf("dump, no option: %+v %v", o, err)
	}
	// CRIU's --external mnt[] and mnt[]:FLAGS (upstream zdtm's
	// mnt_ext_auto and mnt_ext_file_bind_auto) say the same.
	for v, want := range map[string][2]bool{"mnt[]": {false, false}, "mnt[]:s": {true, false}, "mnt[]:m": {false, true}, "mnt[]:sm": {true, true}} {
		fs = pflag.NewFlagSet("dump", pflag.ContinueOnError)
		addDumpExternalFlag(fs)
		mnt = addDumpMountFlags(fs)
		if err := fs.Parse([]string{"--external", v}); err != nil {
			t.Fatal(err)
		}
		if o, err := mnt(); err != nil || !o.Auto || o.ExternalSharing != want[0] || o.ExternalMasters != want[1] || len(o.External) != 0 {
			t.Errorf("dump --external %s: %+v %v", v, o, err)
		}
	}
	fs = pflag.NewFlagSet("restore", pflag.ContinueOnError)
	addExternalFlag(fs)
	rmnt := addRestoreMountFlags(fs)
	if err := fs.Parse([]string{"--external", "mnt[]", "--external", "mnt[lib]:/lib"}); err != nil {
		t.Fatal(err)
	}
	if o, err := rmnt(); err != nil || len(o.External) != 1 || o.External["lib"] != "/lib" {
		t.Errorf("restore --external mnt[]: %+v %v", o, err)
	}
	fs = pflag.NewFlagSet("restore", pflag.ContinueOnError)
	addExternalFlag(fs)
	rmnt = addRestoreMountFlags(fs)
	if err := fs.Parse([]string{"--ext-mount-map", "auto", "--ext-mount-map", "lib:/lib", "--ext-mount-map", "console:/dev/pts/0"}); err != nil {
		t.Fatal(err)
	}
	if o, err := rmnt(); err != nil || len(o.External) != 2 || o.External["lib"] != "/lib" || o.External["console"] != "/dev/pts/0" {
		t.Errorf("restore: %+v %v", o, err)
	}
}
