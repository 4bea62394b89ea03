package pagemap_test

import (
	"os"
	"testing"

	"github.com/criugo/criu/criu/crtest"
)

// TestMain fails the run if the tests leave file descriptors open.
func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }
