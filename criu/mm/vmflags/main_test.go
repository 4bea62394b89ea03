package vmflags

import (
	"os"
	"testing"

	"github.com/criugo/criu/criu/crtest"
)

func TestMain(m *testing.M) { os.Exit(crtest.RunWithFdCheck(m)) }
