package files

import (
	"testing"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

// TestMain fails the run if the tests leave file descriptors open
// (deleted files held for their ghosts, fd copies).
func TestMain(m *testing.M) { nstest.Main(m) }
