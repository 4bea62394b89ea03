package procfs

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const goodStat = "123 (a b) S 1 123 123 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 3 0 555 1000 200 18446744073709551615 " +
	"4096 8192 140000 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 12288 16384 20480 30000 30100 30200 30300 0\n"

// statWith replaces field n (1-based, n >= 3) of goodStat.
func statWith(n int, v string) string {
	rp := strings.LastIndexByte(goodStat, ')')
	f := strings.Fields(goodStat[rp+1:])
	f[n-3] = v
	return goodStat[:rp+1] + " " + strings.Join(f, " ") + "\n"
}

// A malformed or missing field of stat is an error naming the field,
// never a zero value.
func TestParseStatStrict(t *testing.T) {
	if _, err := ParseStat([]byte(goodStat)); err != nil {
		t.Fatal(err)
	}
	rp := strings.LastIndexByte(goodStat, ')')
	tests := []struct {
		name, in, field string
	}{
		{"no comm", "123 a b S 1", "2 (comm)"},
		{"bad pid", "x (a) S" + goodStat[rp+3:], "1 (pid)"},
		{"short", goodStat[:rp+1] + " S 1 2 3\n", "7 (tty_nr)"},
		{"no exit_code", strings.TrimSuffix(strings.TrimSpace(goodStat), " 0") + "\n", "52 (exit_code)"},
		{"state", statWith(3, "SS"), "3 (state)"},
		{"ppid", statWith(4, "x"), "4 (ppid)"},
		{"flags", statWith(9, "0x10"), "9 (flags)"},
		{"nice", statWith(19, "--1"), "19 (nice)"},
		{"num_threads", statWith(20, "3x"), "20 (num_threads)"},
		{"startstack", statWith(28, "1e3"), "28 (startstack)"},
		{"start_brk", statWith(47, "99999999999999999999999"), "47 (start_brk)"},
		{"env_end", statWith(51, "12k"), "51 (env_end)"},
	}
	for _, tt := range tests {
		_, err := ParseStat([]byte(tt.in))
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) || !strings.HasPrefix(fe.Field, tt.field) {
			t.Errorf("%s: err %v, want a field error on %s", tt.name, err, tt.field)
		}
	}
}

func TestParseStatusStrict(t *testing.T) {
	good := "Name:\tx\nUid:\t0\t1\t2\t3\nGroups:\t\nCapEff:\t000001ffffffffff\nSeccomp:\t2\nUmask:\t0022\n"
	st, err := ParseStatus(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if g, err := st.Ints("Groups"); err != nil || len(g) != 0 {
		t.Errorf("empty Groups: %v %v", g, err)
	}
	for _, bad := range []string{"Name x\n", ":x\n", "Uid:\t0\nUid:\t1\n"} {
		if _, err := ParseStatus(strings.NewReader(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
	st = Status{"": "/proc/123/status", "CapEff": "zz", "Uid": "0 1 2", "Seccomp": "-1", "Umask": "9", "Gid": "0 0 0 x"}
	tests := []struct {
		field string
		get   func() error
	}{
		{"CapEff", func() error { _, err := st.Hex("CapEff"); return err }},
		{"CapPrm", func() error { _, err := st.Hex("CapPrm"); return err }},
		{"Uid", func() error { _, err := st.IntsN("Uid", 4); return err }},
		{"Gid", func() error { _, err := st.IntsN("Gid", 4); return err }},
		{"Groups", func() error { _, err := st.Ints("Groups"); return err }},
		{"Seccomp", func() error { _, err := st.Uint("Seccomp"); return err }},
		{"NoNewPrivs", func() error { _, err := st.Uint("NoNewPrivs"); return err }},
		{"Umask", func() error { _, err := st.Octal("Umask"); return err }},
	}
	for _, tt := range tests {
		err := tt.get()
		want := "parse /proc/123/status: field " + tt.field
		if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err %v, want %q...", tt.field, err, want)
		}
	}
}

func TestParseTimersStrict(t *testing.T) {
	good := "ID: 1\nsignal: 14/0000000000000000\nnotify: signal/tid.7\nClockID: 0\n"
	if ts, err := ParseTimers(strings.NewReader(good)); err != nil || len(ts) != 1 || !ts[0].ToThread || ts[0].SigevNotify() != 4 {
		t.Fatalf("%+v %v", ts, err)
	}
	for _, bad := range []string{
		"ID: x\n",
		"signal: 1/0\n",
		"ID: 1\nsignal: 14\nnotify: signal/pid.7\nClockID: 0\n",
		"ID: 1\nsignal: x/0\nnotify: signal/pid.7\nClockID: 0\n",
		"ID: 1\nsignal: 14/zz\nnotify: signal/pid.7\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: bogus/pid.7\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/xid.7\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.7\nClockID: a\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.7\n",
		"ID: 1\nsignal: 14/0\nsignal: 14/0\nnotify: signal/pid.7\nClockID: 0\n",
		"ID: 1\nsignal: 14/0\nnotify: signal/pid.7\nClockID: 0\nbogus: 1\n",
		"ID: 1\nsignal 14/0\n",
	} {
		if _, err := ParseTimers(strings.NewReader(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

// ReadStat and ReadStatusFile name the real file in their errors.
func TestReadNamesFile(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/status"
	if err := os.WriteFile(p, []byte("Name x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStatusFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("err %v does not name %s", err, p)
	}
	if err := os.WriteFile(dir+"/comm", []byte("no newline"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadComm(dir + "/comm"); err == nil || !strings.Contains(err.Error(), dir+"/comm") {
		t.Errorf("comm: err %v does not name %s/comm", err, dir)
	}
	if c, err := ReadComm("/proc/self/comm"); err != nil || c == "" {
		t.Errorf("own comm %q %v", c, err)
	}
	if _, err := ReadPersonality(os.Getpid()); err != nil {
		t.Error(err)
	}
	st, err := ReadStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Hex("NoSuchField"); err == nil || !strings.Contains(err.Error(), "/proc/") {
		t.Errorf("missing field: %v", err)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(goodStat))
	f.Add([]byte(statWith(19, "-5")))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err != nil && (s != (Stat{}) || !errors.Is(err, ErrFormat)) {
			t.Fatalf("error %v with a partial result %+v", err, s)
		}
		if err == nil && s.Pid <= 0 {
			t.Fatalf("no error and pid %d", s.Pid)
		}
	})
}

func FuzzParseTimers(f *testing.F) {
	f.Add("ID: 1\nsignal: 14/0000000000000000\nnotify: signal/tid.7\nClockID: 0\n")
	f.Fuzz(func(t *testing.T, in string) {
		ts, err := ParseTimers(strings.NewReader(in))
		if err == nil {
			for _, tm := range ts {
				if tm.Notify == "" {
					t.Fatalf("timer without notify accepted: %+v", tm)
				}
			}
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add("Name:\tx\nCapEff:\t0000000000000000\n")
	f.Fuzz(func(t *testing.T, in string) {
		st, err := ParseStatus(strings.NewReader(in))
		if err == nil {
			st.Hex("CapEff")
			st.Ints("Groups")
		}
	})
}

const goodSmaps = "7f00aa000000-7f00aa021000 rw-p 00000000 00:00 0 \n" +
	"Size:                132 kB\nRss:                   8 kB\nSwap:                  4 kB\nVmFlags: rd wr mr mw me ac \n"

// A size of smaps that is not "N kB", or a mapping without its Rss, Swap
// or VmFlags line, is an error naming the field, never a zero.
func TestParseSmapsStrict(t *testing.T) {
	ms, err := parseMaps(strings.NewReader(goodSmaps), true)
	if err != nil || len(ms) != 1 || ms[0].Rss != 8192 || ms[0].Swap != 4096 || !ms[0].HasFlag("ac") {
		t.Fatalf("%+v %v", ms, err)
	}
	// maps (no smaps lines) stays valid for ParseMaps.
	if _, err := ParseMaps(strings.NewReader("7f00aa000000-7f00aa021000 rw-p 00000000 00:00 0\n")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, field string
	}{
		{"rss not a number", strings.Replace(goodSmaps, "8 kB", "x kB", 1), "Rss"},
		{"rss no unit", strings.Replace(goodSmaps, "8 kB", "8", 1), "Rss"},
		{"rss empty", strings.Replace(goodSmaps, "8 kB", "", 1), "Rss"},
		{"swap other unit", strings.Replace(goodSmaps, "4 kB", "4 MB", 1), "Swap"},
		{"swap overflow", strings.Replace(goodSmaps, "4 kB", "18446744073709551615 kB", 1), "Swap"},
		{"no rss", strings.Replace(goodSmaps, "Rss:                   8 kB\n", "", 1), "Rss"},
		{"no swap", strings.Replace(goodSmaps, "Swap:                  4 kB\n", "", 1), "Swap"},
		{"no vmflags", strings.Replace(goodSmaps, "VmFlags: rd wr mr mw me ac \n", "", 1), "VmFlags"},
		{"second mapping bare", goodSmaps + "7f00ab000000-7f00ab003000 r--s 00000000 fe:00 77 /x\n", "Rss"},
	}
	for _, tt := range tests {
		_, err := parseMaps(strings.NewReader(tt.in), true)
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) || fe.Field != tt.field {
			t.Errorf("%s: err %v, want a field error on %s", tt.name, err, tt.field)
		}
	}
}

const goodFdinfo = "pos:\t7\nflags:\t02\nmnt_id:\t15\n"

func TestParseFdinfoStrict(t *testing.T) {
	for _, in := range []string{goodFdinfo, goodFdinfo + "ino:\t5\n", goodFdinfo + "SqMask:\t0x3\nPollList:\n  op=1, task_works=0\n"} {
		if fi, err := ParseFdinfo(strings.NewReader(in)); err != nil || fi.Pos != 7 || fi.Flags != 2 || fi.MntID != 15 {
			t.Errorf("%q: %+v %v", in, fi, err)
		}
	}
	tests := []struct {
		name, in, field string
	}{
		{"no pos", "flags:\t02\nmnt_id:\t15\n", "pos"},
		{"no flags", "pos:\t7\nmnt_id:\t15\n", "flags"},
		{"no mnt_id", "pos:\t7\nflags:\t02\n", "mnt_id"},
		{"empty", "", "pos"},
	}
	for _, tt := range tests {
		_, err := ParseFdinfo(strings.NewReader(tt.in))
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) || fe.Field != tt.field {
			t.Errorf("%s: err %v, want a field error on %s", tt.name, err, tt.field)
		}
	}
	for _, bad := range []string{"pos:\tx\n", "flags:\t9\n", "mnt_id:\t-\n", "ino:\t-1\n"} {
		var pe *ParseError
		if _, err := ParseFdinfo(strings.NewReader(goodFdinfo + bad)); !errors.As(err, &pe) || !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

// The kind-specific readers of an fdinfo fail naming the file read and
// the field.
func TestFdinfoKindsStrict(t *testing.T) {
	fi := Fdinfo{Extra: map[string]string{
		"eventfd-count": "zz", "sigmask": "g", "clockid": "1", "ticks": "3", "settime flags": "01",
		"it_value": "(1 2)", "it_interval": "(1, 2)",
	}, file: "/proc/9/fdinfo/4", LockLines: []string{"1: POSIX"}}
	tests := []struct {
		field string
		get   func(Fdinfo) error
	}{
		{"eventfd-count", func(fi Fdinfo) error { _, err := fi.Eventfd(); return err }},
		{"sigmask", func(fi Fdinfo) error { _, err := fi.Sigmask(); return err }},
		{"it_value", func(fi Fdinfo) error { _, err := fi.Timerfd(); return err }},
	}
	for _, tt := range tests {
		err := tt.get(fi)
		want := "parse /proc/9/fdinfo/4: field " + tt.field
		if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err %v, want %q...", tt.field, err, want)
		}
		err = tt.get(Fdinfo{Extra: map[string]string{}, file: fi.file})
		want = "parse /proc/9/fdinfo/4: field "
		if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "missing") {
			t.Errorf("%s missing: err %v, want %q... missing", tt.field, err, want)
		}
	}
	for _, k := range []string{"clockid", "ticks", "settime flags"} {
		f := Fdinfo{Extra: map[string]string{}, file: fi.file}
		for k2, v := range fi.Extra {
			f.Extra[k2] = v
		}
		f.Extra["it_value"] = "(1, 2)"
		f.Extra[k] = "x"
		if _, err := f.Timerfd(); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "field "+k) {
			t.Errorf("timerfd %s: err %v", k, err)
		}
	}
	if _, err := fi.Locks(); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), fi.file) {
		t.Errorf("locks: err %v does not name %s", err, fi.file)
	}
}

func TestParseEpollTfdsStrict(t *testing.T) {
	good := "tfd:        3 events: 80000019 data:       1234567890  pos:0 ino:40e sdev:10"
	if tfds, err := ParseEpollTfds(strings.NewReader(good + "\n")); err != nil || len(tfds) != 1 || tfds[0].Ino != 0x40e {
		t.Fatalf("%+v %v", tfds, err)
	}
	// (A line without tfd is not a target line.)
	for _, k := range epollFields[1:] {
		f := strings.Fields(strings.ReplaceAll(good, ":", ": "))
		var kept []string
		for i := 0; i < len(f); i += 2 {
			if f[i] != k+":" {
				kept = append(kept, f[i], f[i+1])
			}
		}
		in := strings.Join(kept, " ") + "\n"
		_, err := ParseEpollTfds(strings.NewReader(in))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "field "+k+" missing") {
			t.Errorf("no %s: %q: err %v", k, in, err)
		}
	}
	for _, bad := range []string{
		good + " extra",
		strings.Replace(good, "40e", "x", 1),
		strings.Replace(good, "sdev:10", "sdev:", 1),
	} {
		if _, err := ParseEpollTfds(strings.NewReader(bad + "\n")); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestParseInotifyStrict(t *testing.T) {
	noHandle := "inotify wd:2 ino:1a2b sdev:800001 mask:800afce ignored_mask:0"
	good := noHandle + " fhandle-bytes:8 fhandle-type:1 f_handle:4afd0a00bc1e6a1c"
	for _, in := range []string{noHandle, good} {
		if ws, err := ParseInotify(strings.NewReader(in + "\n")); err != nil || len(ws) != 1 || ws[0].Ino != 0x1a2b {
			t.Errorf("%q: %+v %v", in, ws, err)
		}
	}
	for _, k := range inotifyFields {
		var kept []string
		for _, kv := range strings.Fields(strings.TrimPrefix(good, "inotify ")) {
			if !strings.HasPrefix(kv, k+":") {
				kept = append(kept, kv)
			}
		}
		in := "inotify " + strings.Join(kept, " ") + "\n"
		_, err := ParseInotify(strings.NewReader(in))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "field "+k+" missing") && !strings.Contains(err.Error(), "f_handle of") {
			t.Errorf("no %s: %q: err %v", k, in, err)
		}
	}
}

// Inner fails, naming the file and the field, on a field without ids.
func TestStatusInnerStrict(t *testing.T) {
	st := Status{"": "/proc/5/status", "NSpid": "5 1", "NSsid": ""}
	if v, err := st.Inner("NSpid"); err != nil || v != 1 {
		t.Errorf("NSpid: %d %v", v, err)
	}
	for _, k := range []string{"NSsid", "NSpgid"} {
		_, err := st.Inner(k)
		want := "parse /proc/5/status: field " + k
		if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: err %v, want %q...", k, err, want)
		}
	}
}

// The readers name the file they read in a parse error.
func TestReadersNameFile(t *testing.T) {
	pid := os.Getpid()
	if _, err := ReadSmaps(pid); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMounts(pid); err != nil {
		t.Fatal(err)
	}
	fi, err := ReadFdinfo(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := Path(pid, "fdinfo/0"); fi.file != want {
		t.Errorf("fdinfo file %q, want %q", fi.file, want)
	}
	if _, err := fi.Eventfd(); err == nil || !strings.HasPrefix(err.Error(), "parse "+Path(pid, "fdinfo/0")+": field eventfd-count") {
		t.Errorf("eventfd of fd 0: %v", err)
	}
	err = withFile(fieldErr("smaps", "Rss", "", "missing"), "/proc/1/smaps")
	if err.Error() != "parse /proc/1/smaps: field Rss: bad /proc format: missing" {
		t.Errorf("withFile: %v", err)
	}
}

func TestReadLimitsAuxv(t *testing.T) {
	if ls, err := ReadLimits(os.Getpid()); err != nil || len(ls) != 16 {
		t.Errorf("limits %v %v", ls, err)
	}
	if a, err := ReadAuxv(os.Getpid()); err != nil || len(a) < 2 {
		t.Errorf("auxv %v %v", a, err)
	}
	if _, err := ParseLimits(strings.NewReader("Max cpu time x unlimited seconds\n")); !errors.Is(err, ErrFormat) {
		t.Errorf("bad limit: %v", err)
	}
}
