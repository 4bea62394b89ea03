package disk

import (
	"os"
	"testing"

	"github.com/rs/zerolog"

	"github.com/criugo/criu/criu/crtest"
)

// TestMain fails the package's tests if they leave a file open.
func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }

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
