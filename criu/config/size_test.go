package config

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "4K": 4 << 10, "4k": 4 << 10, "1M": 1 << 20, "2G": 2 << 30,
		"1T": 1 << 40, "512MiB": 512 << 20, "64KB": 64 << 10, " 3G ": 3 << 30, "12B": 12,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "1.5M", "-1", "4X", "B", "KB", "1P", "99999999999T"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}
