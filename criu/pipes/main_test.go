package pipes

import (
	"testing"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

// TestMain fails the run if the tests leave file descriptors open
// (pipes, masters).
func TestMain(m *testing.M) { nstest.Main(m) }
