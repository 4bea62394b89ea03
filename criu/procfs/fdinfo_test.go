package procfs

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFdinfoKinds(t *testing.T) {
	fi, err := ParseFdinfo(strings.NewReader("pos:\t0\nflags:\t04002\nmnt_id:\t15\neventfd-count:                5\neventfd-id: 1\neventfd-semaphore: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e, err := fi.Eventfd(); err != nil || e.Count != 5 || !e.Semaphore {
		t.Errorf("eventfd %+v %v", e, err)
	}
	fi, _ = ParseFdinfo(strings.NewReader("pos:\t0\nflags:\t02\nmnt_id:\t15\nsigmask:\t0000000200000200\n"))
	if m, err := fi.Sigmask(); err != nil || m != 0x200000200 {
		t.Errorf("sigmask %#x %v", m, err)
	}
	fi, _ = ParseFdinfo(strings.NewReader("pos:\t0\nflags:\t02\nmnt_id:\t15\nclockid: 1\nticks: 3\nsettime flags: 01\nit_value: (99, 992228065)\nit_interval: (1, 500)\n"))
	tf, err := fi.Timerfd()
	if err != nil || tf.Clockid != 1 || tf.Ticks != 3 || tf.SettimeFlags != 1 || tf.Value != (Timespec{99, 992228065}) || tf.Interv != (Timespec{1, 500}) {
		t.Errorf("timerfd %+v %v", tf, err)
	}
	if _, err := (Fdinfo{Extra: map[string]string{}}).Timerfd(); !errors.Is(err, ErrFormat) {
		t.Errorf("empty timerfd: %v", err)
	}
	tfds, err := ParseEpollTfds(strings.NewReader("pos:\t0\ntfd:        3 events: 80000019 data:       1234567890  pos:0 ino:40e sdev:10\ntfd:        5 events:       1c data:                7  pos:0 ino:40e sdev:10\n"))
	if err != nil || len(tfds) != 2 {
		t.Fatalf("%+v %v", tfds, err)
	}
	want := EpollTfd{Fd: 3, Events: 0x80000019, Data: 0x1234567890, Ino: 0x40e, Dev: 0x10}
	if tfds[0] != want || tfds[1].Fd != 5 || tfds[1].Events != 0x1c || tfds[1].Data != 7 {
		t.Errorf("%+v", tfds)
	}
	if _, err := ParseEpollTfds(strings.NewReader("tfd: x events: 1\n")); !errors.Is(err, ErrFormat) {
		t.Errorf("bad tfd: %v", err)
	}
}

func TestParseLock(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Lock
		len  int64
	}{
		{"1: POSIX  ADVISORY  WRITE 1234 00:2a:5678 0 EOF", Lock{Kind: LockPOSIX, Mode: "ADVISORY", Write: true, Pid: 1234, End: -1}, 0},
		{"2: POSIX  ADVISORY  READ 7 08:01:99 20 29", Lock{Kind: LockPOSIX, Mode: "ADVISORY", Pid: 7, Start: 20, End: 29}, 10},
		{"3: FLOCK  ADVISORY  READ 9 00:2a:5678 0 EOF", Lock{Kind: LockFlock, Mode: "ADVISORY", Pid: 9, End: -1}, 0},
		{"4: OFDLCK ADVISORY  WRITE -1 00:2a:5678 5 EOF", Lock{Kind: LockOFD, Mode: "ADVISORY", Write: true, Pid: -1, Start: 5, End: -1}, 0},
		{"5: LEASE  ACTIVE    READ 9 00:2a:5678 0 EOF", Lock{Kind: LockLease, Mode: "ACTIVE", Pid: 9, End: -1}, 0},
		{"6: LEASE  BREAKING  UNLCK 9 00:2a:5678 0 EOF", Lock{Kind: LockLease, Mode: "BREAKING", Unlock: true, Pid: 9, End: -1}, 0},
	} {
		got, err := ParseLock(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		got.Line = ""
		if got != tc.want || got.Len() != tc.len {
			t.Errorf("%q: got %+v len %d, want %+v len %d", tc.in, got, got.Len(), tc.want, tc.len)
		}
	}
	for _, bad := range []string{"", "1: POSIX", "1: POSIX ADVISORY WRITE x 0:0:0 0 EOF", "1: POSIX ADVISORY WRITE 1 0:0:0 a EOF"} {
		if _, err := ParseLock(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	fi, err := ParseFdinfo(strings.NewReader("pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t5\nlock:\t1: FLOCK  ADVISORY  WRITE 3 00:2a:5 0 EOF\nlock:\t2: POSIX  ADVISORY  READ 3 00:2a:5 0 9\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ls, err := fi.Locks(); err != nil || len(ls) != 2 || ls[0].Kind != LockFlock || ls[1].End != 9 {
		t.Errorf("Locks() = %+v, %v", ls, err)
	}
}

func TestParseInotify(t *testing.T) {
	in := "pos:\t0\nflags:\t04000\nmnt_id:\t15\nino:\t1057\n" +
		"inotify wd:2 ino:1a2b sdev:800001 mask:800afce ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:4afd0a00bc1e6a1c\n" +
		"inotify wd:5 ino:10 sdev:fe00000 mask:2 ignored_mask:0 fhandle-bytes:c fhandle-type:81 f_handle:0100000000000000aabbccdd\n"
	ws, err := ParseInotify(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Wd != 2 || ws[0].Ino != 0x1a2b || ws[0].Sdev != 0x800001 || ws[0].Mask != 0x800afce ||
		ws[0].HandleType != 1 || len(ws[0].Handle) != 8 || ws[1].Wd != 5 || len(ws[1].Handle) != 12 || ws[1].HandleType != 0x81 {
		t.Errorf("got %+v", ws)
	}
	for _, bad := range []string{"inotify wd:x\n", "inotify wd:1 fhandle-bytes:8 f_handle:00\n", "inotify wd:1 f_handle:zz\n", "inotify junk\n"} {
		if _, err := ParseInotify(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzFdinfoParsers feeds the lock, inotify and mountinfo parsers
// arbitrary text: they must return an error, never panic.
func FuzzFdinfoParsers(f *testing.F) {
	f.Add("1: POSIX  ADVISORY  WRITE 1234 00:2a:5678 0 EOF")
	f.Add("inotify wd:2 ino:1a2b sdev:800001 mask:800afce ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:4afd0a00bc1e6a1c")
	f.Add("36 35 98:0 /mnt1 /mnt/a\\040b rw - ext3 /dev/root rw")
	f.Fuzz(func(t *testing.T, s string) {
		ParseLock(s)
		ParseInotify(strings.NewReader(s))
		ParseMounts([]byte(s))
	})
}

// The kernel writes the watch descriptor in hex (inotify_fdinfo's
// "wd:%x"): watch 16 shows as "wd:10", watch 10 as "wd:a".
func TestReadInotifyWdHex(t *testing.T) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	dir := t.TempDir()
	want := map[int]bool{}
	for i := 0; i < 17; i++ {
		p := fmt.Sprintf("%s/f%d", dir, i)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		wd, err := unix.InotifyAddWatch(fd, p, unix.IN_MODIFY)
		if err != nil {
			t.Fatal(err)
		}
		want[wd] = true
	}
	ws, err := ReadInotify(os.Getpid(), fd)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for _, w := range ws {
		got[w.Wd] = true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("watch descriptors %v, want %v", got, want)
	}
}

func TestFdinfoPidfd(t *testing.T) {
	fi, err := ParseFdinfo(strings.NewReader("pos:\t0\nflags:\t02004002\nmnt_id:\t4\nino:\t2489935\nPid:\t710\nNSpid:\t710\t1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := fi.Pidfd(); err != nil || p.Pid != 710 || !reflect.DeepEqual(p.NSpid, []int{710, 1}) {
		t.Errorf("pidfd %+v %v", p, err)
	}
	fi, _ = ParseFdinfo(strings.NewReader("pos:\t0\nflags:\t02\nmnt_id:\t4\nPid:\t-1\n"))
	if p, err := fi.Pidfd(); err != nil || p.Pid != -1 || len(p.NSpid) != 0 {
		t.Errorf("dead pidfd %+v %v", p, err)
	}
	for _, in := range []string{"flags:\t02\n", "Pid:\tx\n", "Pid:\t5\n", "Pid:\t5\nNSpid:\t5 y\n"} {
		fi, _ = ParseFdinfo(strings.NewReader("pos:\t0\nmnt_id:\t4\n" + in))
		if _, err := fi.Pidfd(); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %v", in, err)
		}
	}
	// A real one: of this process.
	fd, err := unix.PidfdOpen(os.Getpid(), unix.PIDFD_NONBLOCK)
	if err != nil {
		t.Skip("pidfd_open:", err)
	}
	defer unix.Close(fd)
	fi, err = ReadFdinfo(os.Getpid(), fd)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := fi.Pidfd(); err != nil || p.Pid != os.Getpid() || p.NSpid[0] != os.Getpid() {
		t.Errorf("own pidfd %+v %v", p, err)
	}
}
