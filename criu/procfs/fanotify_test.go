package procfs

import (
	"strings"
	"testing"
)

func TestParseFanotify(t *testing.T) {
	in := `pos:	0
flags:	04002
mnt_id:	17
ino:	1038
fanotify flags:3 event-flags:88000
fanotify ino:53a8a4 sdev:fe00000 mflags:40 mask:20 ignored_mask:8 fhandle-bytes:8 fhandle-type:1 f_handle:a4a85300f77fbc35
fanotify mnt_id:1b mflags:0 mask:8 ignored_mask:0
fanotify sdev:fe00001 mflags:0 mask:2 ignored_mask:0
fanotify mnt_ns:4026531841 mflags:0 mask:1000000 ignored_mask:0
`
	g, err := ParseFanotify(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if g.Flags != 3 || g.EventFlags != 0x88000 || len(g.Marks) != 4 {
		t.Fatalf("group %+v", g)
	}
	m := g.Marks[0]
	if m.Kind != FanotifyInode || m.Ino != 0x53a8a4 || m.Sdev != 0xfe00000 || m.MFlags != 0x40 || m.Mask != 0x20 ||
		m.IgnoredMask != 8 || m.HandleType != 1 || len(m.Handle) != 8 || m.Handle[0] != 0xa4 {
		t.Errorf("inode mark %+v", m)
	}
	if m := g.Marks[1]; m.Kind != FanotifyMount || m.MntID != 0x1b || m.Mask != 8 {
		t.Errorf("mount mark %+v", m)
	}
	if m := g.Marks[2]; m.Kind != FanotifySb || m.Sdev != 0xfe00001 || m.Mask != 2 {
		t.Errorf("sb mark %+v", m)
	}
	if m := g.Marks[3]; m.Kind != FanotifyMntNs || m.MntNs != 4026531841 {
		t.Errorf("mntns mark %+v", m)
	}
	for _, bad := range []string{
		"fanotify ino:1 sdev:2 mflags:0 mask:2 ignored_mask:0\n",                        // no header
		"fanotify flags:0 event-flags:0\nfanotify ino:1 sdev:2 mask:2 ignored_mask:0\n", // no mflags
		"fanotify flags:0 event-flags:0\nfanotify ino:1 sdev:2 mflags:0 mask:2 ignored_mask:0 fhandle-bytes:4 fhandle-type:1 f_handle:00\n",
		"fanotify flags:0 event-flags:0\nfanotify what:1 mflags:0 mask:2 ignored_mask:0\n",
	} {
		if _, err := ParseFanotify(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
