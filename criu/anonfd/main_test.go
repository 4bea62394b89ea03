package anonfd

import (
	"os"
	"testing"

	"github.com/criugo/criu/criu/crtest"
)

// TestMain fails the run if the tests leave file descriptors open.
// The test binary is the stand-in of the tests' dead pidfds too.
func TestMain(m *testing.M) {
	RunStandIn()
	os.Exit(crtest.RunWithFdCheck(m))
}
