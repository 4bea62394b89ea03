package cgroup

import (
	"slices"
	"testing"
)

func TestParseCgroupFile(t *testing.T) {
	ms, err := parseCgroupFile([]byte("9:name=systemd:/\n8:pids:/a/b\n2:cpu,cpuacct:/x\n0::/u\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.name+"|"+m.path)
	}
	want := []string{"|/u", "cpu,cpuacct|/x", "name=systemd|/", "pids|/a/b"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if ms[1].cnames[1] != "cpuacct" {
		t.Errorf("cnames %q", ms[1].cnames)
	}
	for _, bad := range []string{"8:pids\n", "8:pids:rel\n"} {
		if _, err := parseCgroupFile([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseMounts(t *testing.T) {
	mi := `25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 /lxc/c1 /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu
29 25 0:26 / /mnt/my\040pids rw - cgroup cgroup rw,pids
30 25 0:26 / /other/pids rw - cgroup cgroup rw,pids
`
	m := parseMounts([]byte(mi))
	for k, want := range map[string]mount{
		"":             {"/sys/fs/cgroup/unified", "/"},
		"name=systemd": {"/sys/fs/cgroup/systemd", "/"},
		"cpu,cpuacct":  {"/sys/fs/cgroup/cpu,cpuacct", "/lxc/c1"},
		"pids":         {"/mnt/my pids", "/"},
	} {
		if m[k] != want {
			t.Errorf("%q: %+v, want %+v", k, m[k], want)
		}
	}
	if len(m) != 4 {
		t.Errorf("%d hierarchies: %v", len(m), m)
	}
	c := m["cpu,cpuacct"]
	if d := c.dir("/lxc/c1/k"); d != "/sys/fs/cgroup/cpu,cpuacct/k" {
		t.Errorf("dir: %q", d)
	}
	if d := c.dir("/lxc/c10"); d != "" {
		t.Errorf("dir of a path outside the mount: %q", d)
	}
	if hierKey([]string{"cpuacct", "cpu"}) != "cpu,cpuacct" || hierKey([]string{""}) != "" {
		t.Error("hierKey")
	}
}

func TestParseProps(t *testing.T) {
	p := DefaultProps()
	spec := "\"c1\":\n - \"strategy\": \"merge\"\n - \"properties\": [\"a\", \"b\"]\n \"pids\":\n - \"strategy\": \"replace\"\n - \"properties\": [\"c\", \"d\"]"
	if err := p.ParseProps(spec); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p["c1"], []string{"a", "b"}) || !slices.Equal(p["pids"], []string{"c", "d"}) {
		t.Errorf("got c1 %q pids %q", p["c1"], p["pids"])
	}
	if err := p.ParseProps("\"cpu\":\n - \"strategy\": \"merge\"\n - \"properties\": [\"cpu.x\"]\n"); err != nil {
		t.Fatal(err)
	}
	if got := p["cpu"]; got[len(got)-1] != "cpu.x" || got[0] != "cpu.shares" {
		t.Errorf("merge: %q", got)
	}
	if err := p.ParseProps("\"e\":\n - \"strategy\": \"merge\"\n - \"properties\": []\n"); err != nil || len(p["e"]) != 0 {
		t.Errorf("empty list: %v %q", err, p["e"])
	}
	for _, bad := range []string{
		"c1:\n - \"strategy\": \"merge\"\n - \"properties\": []",
		"\"c1\":\n - \"strategy\": \"join\"\n - \"properties\": []",
		"\"c1\":\n - \"strategy\": \"merge\"\n - \"properties\": [\"a\" \"b\"]",
		"\"c1\":\n - \"strategy\": \"merge\"\n",
	} {
		if err := DefaultProps().ParseProps(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if DefaultProps()["pids"][0] != "pids.max" {
		t.Error("DefaultProps shares the built-in list")
	}
}

func TestOptions(t *testing.T) {
	for s, want := range map[string]Mode{"": Soft, "soft": Soft, "none": None, "props": PropsOnly, "full": Full, "strict": Strict, "ignore": Ignore} {
		if m, err := ParseMode(s); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("hard"); err == nil {
		t.Error("ParseMode(hard): no error")
	}
	o := Options{Roots: map[string]string{}}
	for _, a := range []string{"/all", "pids:/p/", "cpu,cpuacct:/c"} {
		if err := ParseRoot(o.Roots, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := ParseRoot(o.Roots, "pids:rel"); err == nil {
		t.Error("relative root: no error")
	}
	for _, c := range []struct {
		cnames []string
		want   string
	}{{[]string{"pids"}, "/p"}, {[]string{"cpu", "cpuacct"}, "/c"}, {[]string{"memory"}, "/all"}, {[]string{""}, "/all"}} {
		if got := o.root(c.cnames); got != c.want {
			t.Errorf("root(%q) = %q, want %q", c.cnames, got, c.want)
		}
	}
	o.DumpControllers = []string{"pids", "systemd"}
	if o.skip([]string{"pids"}) || o.skip([]string{"name=systemd"}) || !o.skip([]string{"memory"}) {
		t.Error("skip")
	}
}

func TestTops(t *testing.T) {
	got, err := tops("", []string{"/a/b", "/a", "/c", "/ab"})
	if err != nil || !slices.Equal(got, []string{"/a", "/ab", "/c"}) {
		t.Errorf("tops: %q %v", got, err)
	}
	if got, err := tops("/a", []string{"/a/b", "/a"}); err != nil || !slices.Equal(got, []string{"/a"}) {
		t.Errorf("tops with a root: %q %v", got, err)
	}
	if _, err := tops("/a", []string{"/ab"}); err == nil {
		t.Error("a root above no task: no error")
	}
	for n, want := range map[string]bool{"a": true, "a/b": true, "": true, "..": false, "a/../b": false, "/a": false} {
		if checkName(n, true) != want {
			t.Errorf("checkName(%q, top) != %v", n, want)
		}
	}
	if checkName("a/b", false) || checkName("", false) {
		t.Error("checkName of a child")
	}
}
