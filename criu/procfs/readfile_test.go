package procfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// readFile gives what os.ReadFile gives, for a file bigger than its first
// buffer, an empty one and a /proc one, and os.ReadFile's errors.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 10000)
	for name, data := range map[string][]byte{"big": big, "empty": nil, "small": []byte("x\n")} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(p, 1)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes (%v), want %d", name, len(got), err, len(data))
		}
	}
	want, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readFile("/proc/self/limits", 512); err != nil || !bytes.Equal(got, want) {
		t.Errorf("/proc/self/limits: %q (%v), want %q", got, err, want)
	}
	_, err = readFile(filepath.Join(dir, "none"), 512)
	var pe *os.PathError
	if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Errorf("a missing file: %v", err)
	}
}
