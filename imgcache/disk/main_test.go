package disk

import (
	"fmt"
	"os"
	"testing"

	"github.com/rs/zerolog"
)

// TestMain fails the package's tests if they leave a file open.
func TestMain(m *testing.M) {
	before := openFDs()
	code := m.Run()
	if after := openFDs(); code == 0 && after != before {
		fmt.Fprintf(os.Stderr, "fd leak: %d fds open before the tests, %d after\n", before, after)
		code = 1
	}
	os.Exit(code)
}

// openFDs counts the process's open fds.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		panic(err)
	}
	return len(ents)
}

func testLog(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }

// heldFDs counts the files ls holds open; closeLoaded closes them.
func heldFDs(ls []*Loaded) int {
	n := 0
	for _, l := range ls {
		if l.Snap.journal != nil {
			n++
		}
		for _, img := range l.Images {
			if img.File != nil {
				n++
			}
		}
	}
	return n
}

func closeLoaded(ls []*Loaded) {
	for _, l := range ls {
		l.Snap.Close()
		for _, img := range l.Images {
			if img.File != nil {
				img.File.Close()
			}
		}
	}
}
