package pageio

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHugeOnFault(t *testing.T) {
	for _, tc := range []struct {
		top   string
		sizes []string
		hg    bool
		want  bool
	}{
		{"madvise", []string{"inherit", "never"}, false, false}, // this machine, no "hg"
		{"madvise", []string{"inherit", "never"}, true, true},
		{"always", []string{"inherit"}, false, true},
		{"never", []string{"inherit"}, true, false},
		{"never", []string{"never", "always"}, false, true}, // a size of its own
		{"always", []string{"never", "madvise"}, false, false},
		{"always", []string{"never", "madvise"}, true, true},
		{"madvise", nil, true, true}, // no per-size files: the top mode
		{"never", nil, true, false},
	} {
		if got := hugeOnFault(tc.top, tc.sizes, tc.hg); got != tc.want {
			t.Errorf("hugeOnFault(%q, %q, hg %v) = %v, want %v", tc.top, tc.sizes, tc.hg, got, tc.want)
		}
	}
}

func TestThpMode(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"always [madvise] never\n":         "madvise",
		"always inherit madvise [never]\n": "never",
		"[always] inherit madvise never\n": "always",
		"no brackets\n":                    "never",
		"":                                 "never",
	} {
		p := filepath.Join(dir, "enabled")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := thpMode(p); got != want {
			t.Errorf("thpMode(%q) = %q, want %q", text, got, want)
		}
	}
	if got := thpMode(filepath.Join(dir, "none")); got != "never" {
		t.Errorf("thpMode of no file = %q", got)
	}
}
