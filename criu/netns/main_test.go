package netns

import (
	"testing"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

// TestMain fails the run if the tests leave file descriptors open
// (namespace fds, seekable copies, pipes).
func TestMain(m *testing.M) { nstest.Main(m) }
