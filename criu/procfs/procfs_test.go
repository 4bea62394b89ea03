package procfs

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseMaps(t *testing.T) {
	in := `55d0c0a00000-55d0c0a01000 r--p 00000000 fe:00 9982206                    /tmp/a b/counter
7f00aa000000-7f00aa021000 rw-p 00000000 00:00 0 
Size:                132 kB
Rss:                   8 kB
Swap:                  4 kB
VmFlags: rd wr mr mw me ac 
7f00ab000000-7f00ab003000 r--s 00000000 fe:00 77 /tmp/x.dat (deleted)
VmFlags: rd sh mr me
7ffd7c679000-7ffd7c69a000 rw-p 00000000 00:00 0                          [stack]
VmFlags: rd wr mr mw me gd ac
`
	got, err := ParseMaps(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d mappings", len(got))
	}
	want0 := Mapping{Start: 0x55d0c0a00000, End: 0x55d0c0a01000, Prot: ProtRead, Major: 0xfe, Inode: 9982206, Path: "/tmp/a b/counter"}
	if !reflect.DeepEqual(got[0], want0) {
		t.Errorf("got %+v\nwant %+v", got[0], want0)
	}
	if got[1].Path != "" || got[1].Prot.String() != "rw-" || got[1].Rss != 8192 || got[1].Swap != 4096 || !got[1].HasFlag("ac") {
		t.Errorf("anon: %+v", got[1])
	}
	if !got[2].Shared || !got[2].Deleted() || got[2].FilePath() != "/tmp/x.dat" {
		t.Errorf("deleted shared: %+v", got[2])
	}
	if got[3].Path != "[stack]" || !got[3].HasFlag("gd") || got[3].FilePath() != "" {
		t.Errorf("stack: %+v", got[3])
	}
	for _, bad := range []string{"zz-10 r--p 0 0:0 0\n", "10-5 r--p 0 0:0 0\n", "VmFlags: rd\n", "10-20 r-p 0 0:0 0\n"} {
		if _, err := ParseMaps(strings.NewReader(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestParseStat(t *testing.T) {
	line := "123 (a (weird) name) S 1 123 123 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 3 0 555 1000 200 18446744073709551615 " +
		"4096 8192 140000 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 12288 16384 20480 30000 30100 30200 30300 0\n"
	s, err := ParseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{Pid: 123, Comm: "a (weird) name", State: 'S', Ppid: 1, Pgrp: 123, Session: 123, Flags: 4194304,
		NumThreads: 3, StartCode: 4096, EndCode: 8192, StartStack: 140000, ExitSignal: 17,
		StartData: 12288, EndData: 16384, StartBrk: 20480, ArgStart: 30000, ArgEnd: 30100, EnvStart: 30200, EnvEnd: 30300, Tpgid: -1, StartTime: 555}
	if s != want {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	if _, err := ParseStat([]byte("1 (x) S 1 2")); !errors.Is(err, ErrFormat) {
		t.Errorf("short stat: %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus(strings.NewReader("Name:\tx\nUmask:\t0022\nUid:\t0\t1\t2\t3\nGroups:\t4 5 \nSigBlk:\t0000000000010000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := st.Octal("Umask"); u != 0o22 {
		t.Errorf("umask %o", u)
	}
	if ids, _ := st.Ints("Uid"); !reflect.DeepEqual(ids, []uint32{0, 1, 2, 3}) {
		t.Errorf("uid %v", ids)
	}
	if g, _ := st.Ints("Groups"); !reflect.DeepEqual(g, []uint32{4, 5}) {
		t.Errorf("groups %v", g)
	}
	if m, _ := st.Hex("SigBlk"); m != 1<<16 {
		t.Errorf("sigblk %x", m)
	}
	if _, err := st.Hex("CapEff"); !errors.Is(err, ErrFormat) {
		t.Errorf("missing key: %v", err)
	}
}

func TestParseFdinfo(t *testing.T) {
	fi, err := ParseFdinfo(strings.NewReader("pos:\t100\nflags:\t02102001\nmnt_id:\t25\nino:\t77\neventfd-count: 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Pos != 100 || fi.Flags != 0o2102001 || fi.MntID != 25 || fi.Ino != 77 || fi.Extra["eventfd-count"] != "5" {
		t.Errorf("%+v", fi)
	}
	if _, err := ParseFdinfo(strings.NewReader("pos:\tx\n")); !errors.Is(err, ErrFormat) {
		t.Errorf("bad pos: %v", err)
	}
}

func TestParseAuxv(t *testing.T) {
	b := make([]byte, 48)
	b[0], b[8], b[16], b[24] = 6, 0x10, 0, 0 // AT_PAGESZ, then AT_NULL
	got, err := ParseAuxv(b)
	if err != nil || !reflect.DeepEqual(got, []uint64{6, 0x10, 0, 0}) {
		t.Errorf("%v %v", got, err)
	}
	if _, err := ParseAuxv(make([]byte, 12)); !errors.Is(err, ErrFormat) {
		t.Errorf("odd length: %v", err)
	}
}

func TestParseTimers(t *testing.T) {
	in := "ID: 0\nsignal: 14/00007ffd00000000\nnotify: signal/pid.123\nClockID: 1\nID: 3\nsignal: 10/0000000000000000\nnotify: thread/tid.124\nClockID: 0\n"
	got, err := ParseTimers(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Timer{{ID: 0, Signal: 14, SigVal: 0x7ffd00000000, Notify: "signal", NotifyID: 123, ClockID: 1},
		{ID: 3, Signal: 10, Notify: "thread", ToThread: true, NotifyID: 124}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if n := got[1].SigevNotify(); n != 2|4 {
		t.Errorf("thread/tid notify is %d, want SIGEV_THREAD|SIGEV_THREAD_ID", n)
	}
}

func TestParseLimits(t *testing.T) {
	in := `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max data size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    4096                 bytes     
Max resident set          unlimited            unlimited            bytes     
Max processes             95855                95855                processes 
Max open files            100                  200                  files     
Max locked memory         8388608              8388608              bytes     
Max address space         unlimited            unlimited            bytes     
Max file locks            unlimited            unlimited            locks     
Max pending signals       95855                95855                signals   
Max msgqueue size         819200               819200               bytes     
Max nice priority         0                    0                    
Max realtime priority     0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`
	got, err := ParseLimits(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	inf := ^uint64(0)
	if got[3] != (Rlimit{8388608, inf}) || got[4] != (Rlimit{0, 4096}) || got[7] != (Rlimit{100, 200}) || got[15] != (Rlimit{inf, inf}) {
		t.Errorf("got %v", got)
	}
	if _, err := ParseLimits(strings.NewReader(in[:300])); err == nil {
		t.Error("truncated limits parsed")
	}
}

func TestParseMounts(t *testing.T) {
	ms, err := ParseMounts([]byte("36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n22 1 0:21 / /proc rw - proc proc rw\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].ID != 36 || ms[0].Major != 98 || ms[0].Minor != 0 || ms[0].Point != "/mnt/a b" || ms[1].Minor != 21 {
		t.Errorf("got %+v", ms)
	}
	if _, err := ParseMounts([]byte("x 1 0:1 / /\n")); err == nil {
		t.Error("bad id: no error")
	}
}

func TestStatusInner(t *testing.T) {
	st := Status{"NSpid": "4242\t17\t1", "NSsid": "100\t0\t0", "Pid": "4242"}
	for k, want := range map[string]int{"NSpid": 1, "NSsid": 0} {
		got, err := st.Inner(k)
		if err != nil || got != want {
			t.Errorf("Inner(%s) = %d, %v; want %d", k, got, err, want)
		}
	}
	if _, err := st.Inner("NSpgid"); err == nil {
		t.Error("Inner of a missing key: no error")
	}
}

func TestNsInoSelf(t *testing.T) {
	a, err := NsIno(0, "net")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NsIno(os.Getpid(), "net")
	if err != nil || a != b || a == 0 {
		t.Fatalf("NsIno self %d, by pid %d, %v", a, b, err)
	}
}

func TestParseMountInfo(t *testing.T) {
	in := "36 35 98:0 /mnt1 /mnt/par\\040ent rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
		"40 36 0:45 / /tmp rw,nosuid shared:7 master:3 propagate_from:2 unbindable - tmpfs tmpfs rw,size=65536k,mode=755\n"
	ms, err := ParseMountInfo([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("got %d mounts", len(ms))
	}
	a, b := ms[0], ms[1]
	if a.ID != 36 || a.Parent != 35 || a.Major != 98 || a.Root != "/mnt1" || a.Point != "/mnt/par ent" || a.Master != 1 || a.FSType != "ext3" || a.Source != "/dev/root" || a.SuperOptions[1] != "errors=continue" {
		t.Errorf("first: %+v", a)
	}
	if b.Shared != 7 || b.Master != 3 || b.PropagateFrom != 2 || !b.Unbindable || b.Options[1] != "nosuid" || b.Minor != 45 {
		t.Errorf("second: %+v", b)
	}
	if _, err := ParseMountInfo([]byte("36 35 98:0 / / rw - ext3\n")); err == nil {
		t.Error("a short line parsed")
	}
}
