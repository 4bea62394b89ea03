package dump

import "github.com/criugo/criu/criu/freeze"

// thread is one frozen thread (package freeze).
type thread = freeze.Thread
