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
