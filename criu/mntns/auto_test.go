package mntns

import (
	"strings"
	"testing"

	"github.com/criugo/criu/criu/procfs"
)

// autoExternal on mountinfo as LXC's container and its host show it: a
// bind of the host's /usr/lib (in a peer group of its own inside the
// container) needs --enable-external-sharing; a slave of the host's
// shared /srv needs --enable-external-masters, and its master must be
// that mount's group; a mount of a filesystem the host does not have, or
// of another superblock of the same type, is not external.
func TestAutoExternal(t *testing.T) {
	parse := func(s string) []procfs.MountInfo {
		t.Helper()
		ms, err := procfs.ParseMountInfo([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	host := parse(`24 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
30 24 254:0 /data/srv /srv rw,relatime shared:7 - ext4 /dev/vda rw,discard
31 24 0:22 / /sys rw,nosuid shared:2 - sysfs sysfs rw
32 24 0:26 / /dev/pts rw,nosuid shared:3 - devpts devpts rw,mode=600,ptmxmode=000
`)
	ct := parse(`109 52 254:0 /tmp/c1/rootfs / rw,relatime shared:4 - ext4 /dev/vda rw,discard
117 109 254:0 /usr/lib /lib ro,relatime shared:16 - ext4 /dev/vda rw,discard
118 109 254:0 /usr/lib /usr/lib ro,relatime - ext4 /dev/vda rw,discard
119 109 254:0 /data/srv/www /www rw,relatime master:7 - ext4 /dev/vda rw,discard
120 109 254:0 /data/srv/www /www2 rw,relatime master:99 - ext4 /dev/vda rw,discard
121 109 0:22 /kernel/security /sys/kernel/security ro,relatime - sysfs sysfs rw
122 109 0:55 / /data rw,relatime - tmpfs tmpfs rw,size=1024k
123 109 0:56 / /dev/pts rw,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666,max=1
125 109 0:26 /0 /dev/console rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
126 109 254:0 /usr/lib /lib2 ro,relatime - ext4 /dev/vda rw,nodiscard
`)
	all := DumpOptions{ExternalSharing: true, ExternalMasters: true}
	for _, c := range []struct {
		i    int
		opts DumpOptions
		want string
	}{
		{1, all, "/usr/lib"},
		{1, DumpOptions{ExternalMasters: true}, ""}, // shared: needs sharing
		{2, DumpOptions{}, "/usr/lib"},
		{3, all, "/srv/www"},
		{3, DumpOptions{ExternalSharing: true}, ""}, // a slave: needs masters
		{4, all, ""},                                // master 99 is not /srv's group
		{5, all, "/sys/kernel/security"},
		{6, all, ""}, // a tmpfs of its own
		{7, all, ""}, // a devpts instance of its own
		{8, all, "/dev/pts/0"},
		{9, all, ""}, // other superblock options
	} {
		if got := autoExternal(ct[c.i], host, c.opts); got != c.want {
			t.Errorf("%s with %+v: %q, want %q", ct[c.i].Point, c.opts, got, c.want)
		}
	}
}

// A bind of a pty of the namespace's own devpts (LXC's lxc.tty.max
// ttys) is refused at dump; its ptmx bound on /dev/ptmx is not.
func TestCheckPtyBind(t *testing.T) {
	ns, err := procfs.ParseMountInfo([]byte(`109 52 254:0 /tmp/c1/rootfs / rw,relatime - ext4 /dev/vda rw
110 109 0:51 / /dev rw,relatime - tmpfs none rw,size=492k,mode=755
123 110 0:56 / /dev/pts rw,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666,max=6
124 110 0:56 /ptmx /dev/ptmx rw,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666,max=6
126 110 0:56 /0 /dev/tty1 rw,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666,max=6
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ns {
		err := check(m, i == 0, ns, nil, DumpOptions{}, "")
		if want := m.Point == "/dev/tty1"; (err != nil) != want || want && !strings.Contains(err.Error(), "a bind of pty 0 of the namespace's devpts, which no task of the tree holds") {
			t.Errorf("%s: %v", m.Point, err)
		}
	}
}
