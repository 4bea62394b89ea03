package netlock

import (
	"os"
	"testing"

	"github.com/criugo/criu/criu/crtest"
)

// TestMain keeps the tests' lock records out of the real RecordDir and
// fails the run if the tests leave file descriptors open.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "netlock-records-")
	if err != nil {
		panic(err)
	}
	RecordDir = dir
	code := crtest.RunWithFdCheck(m)
	os.RemoveAll(dir)
	os.Exit(code)
}
